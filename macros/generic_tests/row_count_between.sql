{#
  row_count_between: the model's row count lies between bounds (inclusive): a table
  that must not be empty, a dimension of known size, a guard against a fan-out.

  Fails with one row holding the row count when it is out of bounds.

  Arguments:
    min_value  lowest accepted row count, or omit for none.
    max_value  highest accepted row count, or omit for none. At least one is required.

  Example:
    data_tests:
      - gen_model.row_count_between:
          arguments: {min_value: 1}
      - gen_model.row_count_between:
          arguments: {min_value: 12, max_value: 12}
          config: {where: "fiscal_year = 2024"}
#}
{% test row_count_between(model, min_value=none, max_value=none) %}
    {{ return(adapter.dispatch('test_row_count_between', 'gen_model')(model, min_value, max_value)) }}
{% endtest %}

{% macro default__test_row_count_between(model, min_value, max_value) %}
{%- if execute and (min_value is none and max_value is none
                    or min_value is not none and min_value is not number
                    or max_value is not none and max_value is not number
                    or min_value is number and max_value is number and min_value > max_value) -%}
    {{ exceptions.raise_compiler_error(
        "gen_model.row_count_between: give min_value, max_value or both, as numbers with "
        ~ "min_value <= max_value; got min_value=" ~ (min_value | tojson) ~ ", max_value="
        ~ (max_value | tojson) ~ ". Example: arguments: {min_value: 1}"
    ) }}
{%- endif %}
with counts as (
    select count(*) as row_count
    from {{ model }}
)

select row_count
from counts
where
    {%- if min_value is not none %}
    row_count < {{ min_value }}
    {%- endif %}
    {%- if min_value is not none and max_value is not none %}
    or
    {%- endif %}
    {%- if max_value is not none %}
    row_count > {{ max_value }}
    {%- endif %}
{% endmacro %}

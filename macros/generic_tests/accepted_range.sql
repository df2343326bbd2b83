{#
  accepted_range: a column's values lie between a lower and/or an upper bound.

  Fails with one row per out-of-range row. Nulls are not out of range (test them with
  not_null). Bounds are inlined as SQL, so a date bound is an expression:
  "cast('2020-01-01' as date)".

  Arguments:
    column_name  the column (set by dbt when the test sits under a column).
    min_value    lower bound, or omit for none.
    max_value    upper bound, or omit for none. At least one bound is required.
    inclusive    (default true) whether values equal to a bound are accepted.

  Example:
    columns:
      - name: discount_rate
        data_tests:
          - gen_model.accepted_range:
              arguments: {min_value: 0, max_value: 1}
          # strictly positive:
      - name: quantity
        data_tests:
          - gen_model.accepted_range:
              arguments: {min_value: 0, inclusive: false}
#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    {{ return(adapter.dispatch('test_accepted_range', 'gen_model')(model, column_name, min_value, max_value, inclusive)) }}
{% endtest %}

{% macro default__test_accepted_range(model, column_name, min_value, max_value, inclusive) %}
{%- if execute and min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error(
        "gen_model.accepted_range on column '" ~ column_name ~ "': give min_value, max_value or "
        ~ "both. Example: arguments: {min_value: 0, max_value: 100}"
    ) }}
{%- endif -%}
{%- if execute and inclusive is not sameas true and inclusive is not sameas false -%}
    {{ exceptions.raise_compiler_error(
        "gen_model.accepted_range on column '" ~ column_name ~ "': 'inclusive' must be true or "
        ~ "false, got " ~ (inclusive | tojson) ~ " (write it unquoted in YAML)"
    ) }}
{%- endif %}
select *
from {{ model }}
where
    {%- if min_value is not none %}
    {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}
    {%- endif %}
    {%- if min_value is not none and max_value is not none %}
    or
    {%- endif %}
    {%- if max_value is not none %}
    {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}
    {%- endif %}
{% endmacro %}

{#
  not_null_proportion: the share of non-null values in a column is at least `at_least`
  (and at most `at_most`): for a column that may be null, but not mostly null.

  Fails with one row (non-null rows, total rows, the proportion) when the proportion is out
  of bounds. Bounds are inclusive and compared exactly (non_null_rows >= at_least * rows,
  no floating-point division). An empty model passes: there is no proportion to check.

  Arguments:
    column_name  the column (set by dbt when the test sits under a column).
    at_least     lowest accepted proportion, 0 to 1.
    at_most      (default 1) highest accepted proportion, at_least to 1.

  Example:
    columns:
      - name: coupon_code
        data_tests:
          - gen_model.not_null_proportion:
              arguments: {at_least: 0.05, at_most: 0.5}
#}
{% test not_null_proportion(model, column_name, at_least, at_most=1) %}
    {{ return(adapter.dispatch('test_not_null_proportion', 'gen_model')(model, column_name, at_least, at_most)) }}
{% endtest %}

{% macro default__test_not_null_proportion(model, column_name, at_least, at_most) %}
{%- if execute and not (at_least is number and at_most is number
                        and 0 <= at_least <= at_most <= 1) -%}
    {{ exceptions.raise_compiler_error(
        "gen_model.not_null_proportion on column '" ~ column_name ~ "': need numbers "
        ~ "0 <= at_least <= at_most <= 1, got at_least=" ~ (at_least | tojson)
        ~ ", at_most=" ~ (at_most | tojson) ~ ". Example: arguments: {at_least: 0.95}"
    ) }}
{%- endif %}
with counts as (
    select
        count({{ column_name }}) as non_null_rows,
        count(*) as total_rows
    from {{ model }}
)

select
    non_null_rows,
    total_rows,
    cast(non_null_rows as {{ dbt.type_numeric() }}) / total_rows as not_null_proportion
from counts
where
    total_rows > 0
    and (
        non_null_rows < {{ at_least }} * total_rows
        or non_null_rows > {{ at_most }} * total_rows
    )
{% endmacro %}

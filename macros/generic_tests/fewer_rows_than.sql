{#
  fewer_rows_than: the model has no more rows than another relation (a model that
  aggregates or filters its input cannot have more rows than that input).

  Fails with one row holding both counts; dbt reports the excess rows as the number of
  failures. By default equal counts pass (an aggregation whose groups are all distinct
  keeps every row); `strict: true` asks for strictly fewer, as dbt_utils.fewer_rows_than
  does, and then equal counts fail with 1. A `where:` config filters the model only.

  Arguments:
    compare_model  the relation to compare with: ref('...') or source('...', '...').
    strict         (default false) whether equal row counts fail.

  Example:
    data_tests:
      - gen_model.fewer_rows_than:
          arguments: {compare_model: "ref('stg_orders')"}
#}
{% test fewer_rows_than(model, compare_model, strict=false) %}
    {{ return(adapter.dispatch('test_fewer_rows_than', 'gen_model')(model, compare_model, strict)) }}
{% endtest %}

{% macro default__test_fewer_rows_than(model, compare_model, strict) %}
{{ config(fail_calc = 'coalesce(sum(excess_rows), 0)') }}
{%- if execute and compare_model is none -%}
    {{ exceptions.raise_compiler_error(
        "gen_model.fewer_rows_than: 'compare_model' is required. "
        ~ "Example: arguments: {compare_model: \"ref('stg_orders')\"}"
    ) }}
{%- endif -%}
{%- if execute and strict is not sameas true and strict is not sameas false -%}
    {{ exceptions.raise_compiler_error(
        "gen_model.fewer_rows_than: 'strict' must be true or false, got "
        ~ (strict | tojson) ~ " (write it unquoted in YAML)"
    ) }}
{%- endif %}
with model_rows as (
    select count(*) as row_count
    from {{ model }}
),

compare_model_rows as (
    select count(*) as row_count
    from {{ compare_model }}
)

select
    model_rows.row_count as model_row_count,
    compare_model_rows.row_count as compare_model_row_count,
    case
        when model_rows.row_count > compare_model_rows.row_count
            then model_rows.row_count - compare_model_rows.row_count
        else 1
    end as excess_rows
from model_rows
cross join compare_model_rows
where model_rows.row_count {{ '>=' if strict else '>' }} compare_model_rows.row_count
{% endmacro %}

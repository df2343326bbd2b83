{#
  equal_rowcount: the model has exactly as many rows as another relation (a join that must
  not fan out or drop rows, a one-to-one reshaping of its input).

  Fails with one row holding both counts; dbt reports the difference in row counts as the
  number of failures. A `where:` config filters the model only, not compare_model.

  Arguments:
    compare_model  the relation to compare with: ref('...') or source('...', '...').

  Example:
    data_tests:
      - gen_model.equal_rowcount:
          arguments: {compare_model: "ref('stg_orders')"}
#}
{% test equal_rowcount(model, compare_model) %}
    {{ return(adapter.dispatch('test_equal_rowcount', 'gen_model')(model, compare_model)) }}
{% endtest %}

{% macro default__test_equal_rowcount(model, compare_model) %}
{{ config(fail_calc = 'coalesce(sum(row_count_difference), 0)') }}
{%- if execute and compare_model is none -%}
    {{ exceptions.raise_compiler_error(
        "gen_model.equal_rowcount: 'compare_model' is required. "
        ~ "Example: arguments: {compare_model: \"ref('stg_orders')\"}"
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
    abs(model_rows.row_count - compare_model_rows.row_count) as row_count_difference
from model_rows
cross join compare_model_rows
where model_rows.row_count <> compare_model_rows.row_count
{% endmacro %}

{#
  unique_combination_of_columns: no two rows share the same values in a set of columns
  (the model's grain, when it is wider than one column).

  Fails with one row per duplicated combination (its values and `n_records`, how many rows
  share it). Nulls compare equal here, as in GROUP BY: (1, null) twice is a duplicate.

  Arguments:
    combination_of_columns  list of column names, the grain.
    quote_columns           (default false) quote each name with the adapter's quoting, for
                            names that are reserved words or not lower case.

  Example:
    data_tests:
      - gen_model.unique_combination_of_columns:
          arguments: {combination_of_columns: [customer_id, month]}
#}
{% test unique_combination_of_columns(model, combination_of_columns, quote_columns=false) %}
    {{ return(adapter.dispatch('test_unique_combination_of_columns', 'gen_model')(model, combination_of_columns, quote_columns)) }}
{% endtest %}

{% macro default__test_unique_combination_of_columns(model, combination_of_columns, quote_columns) %}
{%- if execute and (combination_of_columns is string or combination_of_columns is not iterable
                    or combination_of_columns | length == 0) -%}
    {{ exceptions.raise_compiler_error(
        "gen_model.unique_combination_of_columns: 'combination_of_columns' must be a non-empty "
        ~ "list of column names, got " ~ (combination_of_columns | tojson)
        ~ ". Example: arguments: {combination_of_columns: [customer_id, month]}"
    ) }}
{%- endif -%}
{%- set columns = [] -%}
{%- for column in combination_of_columns -%}
    {%- do columns.append(adapter.quote(column) if quote_columns else column) -%}
{%- endfor -%}
{%- set column_list = columns | join(', ') %}
select
    {{ column_list }},
    count(*) as n_records
from {{ model }}
group by {{ column_list }}
having count(*) > 1
{% endmacro %}

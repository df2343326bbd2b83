{#
  expression_is_true: every row satisfies a SQL boolean expression.

  Fails with one row per violating row. A row where the expression is null (for instance
  `amount >= 0` with a null amount) is not a violation, as in a SQL CHECK constraint; pair
  the test with not_null where nulls matter.

  Arguments:
    expression   SQL boolean expression over the model's columns, inlined as written.
    column_name  set by dbt when the test sits under a column; the expression is then
                 appended to it (`column_name expression`, e.g. `amount` + `>= 0`).

  Example:
    data_tests:
      - gen_model.expression_is_true:
          arguments: {expression: "amount = net_amount + tax_amount"}
    columns:
      - name: amount
        data_tests:
          - gen_model.expression_is_true:
              arguments: {expression: ">= 0"}
#}
{% test expression_is_true(model, expression, column_name=none) %}
    {{ return(adapter.dispatch('test_expression_is_true', 'gen_model')(model, expression, column_name)) }}
{% endtest %}

{% macro default__test_expression_is_true(model, expression, column_name) %}
{%- if execute and (expression is not string or not expression | trim) -%}
    {{ exceptions.raise_compiler_error(
        "gen_model.expression_is_true: 'expression' must be a non-empty SQL expression string, "
        ~ "got " ~ (expression | tojson) ~ ". Example: arguments: {expression: \"amount >= 0\"}"
    ) }}
{%- endif %}
select *
from {{ model }}
where not ({{ column_name ~ ' ' if column_name is not none }}{{ expression }})
{% endmacro %}

"""Generated SQL in the project's case: keywords and date parts as its own models write them.

Through the CLI on copies of ../shared/corpora/shop_project (a project we did not write),
reshaped the way public projects are: one whose models truncate dates in lower case
(`date_trunc('month', ...)`), one that writes its keywords in upper case. The sniffing
itself is checked on texts below.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.sql.style import SqlStyle, sniff_style

ORDERS_PER_MONTH = {
    "name": "orders_per_month",
    "layer": "marts",
    "description": "Orders per calendar month.",
    "grain": ["order_month"],
    "sql": (
        "select\n"
        "    date_trunc('month', order_date) as order_month,\n"
        "    extract(year from min(order_date)) as first_year,\n"
        "    date_diff('day', min(order_date), max(order_date)) as active_days,\n"
        "    max(order_date) + interval 1 month as month_after_last_order,\n"
        "    count(*) as order_count\n"
        "from {{ ref('stg_orders') }}\n"
        "group by 1\n"
    ),
    "columns": [
        {"name": "order_month", "description": "The month."},
        {"name": "first_year", "description": "Year of its first order."},
        {"name": "active_days", "description": "Days between its first and last order."},
        {"name": "month_after_last_order", "description": "A month after its last order."},
        {"name": "order_count", "description": "Its orders."},
    ],
}
WRITTEN = Path("models/marts/orders_per_month_v1.sql")
# Words the upper-case reshaping shouts: keywords and the functions the shop's models call.
SHOUTED = re.compile(
    r"\b(select|from|as|with|group|by|left|join|on|case|when|then|else|end|sum|coalesce|min|max|count)\b"
)


@pytest.fixture
def initialised_shop(shop_project_with_package: Path) -> Path:
    """The built shop project with the gen_model package vendored (`gen-model init`, once per session)."""
    return shop_project_with_package


def apply(project: Path, tmp_path: Path) -> str:
    """`gen-model apply` the orders-per-month proposal; the model file it wrote."""
    proposal = tmp_path / "orders_per_month.yml"
    proposal.write_text(yaml.safe_dump(ORDERS_PER_MONTH, sort_keys=False))
    result = CliRunner().invoke(cli, ["apply", str(proposal), "--no-unit-test", "--project-dir", str(project)])
    assert result.exit_code == 0, result.output
    return (project / WRITTEN).read_text()


def test_a_project_without_date_parts_keeps_the_default_case(initialised_shop, tmp_path):
    # Lower-case keywords, no date part anywhere: keywords stay lower, date parts as sqlglot
    # writes them (what the sample project's generated files hold).
    assert apply(initialised_shop, tmp_path) == (
        "with\n"
        "\n"
        "orders as (\n"
        "\n"
        "    select * from {{ ref('stg_orders') }}\n"
        "\n"
        ")\n"
        "\n"
        "select\n"
        "    date_trunc('MONTH', order_date) as order_month,\n"
        "    extract(year from min(order_date)) as first_year,\n"
        "    date_diff('DAY', min(order_date), max(order_date)) as active_days,\n"
        "    max(order_date) + interval '1' month as month_after_last_order,\n"
        "    count(*) as order_count\n"
        "from orders\n"
        "group by 1\n"
    )


def test_date_parts_follow_the_projects_lower_case(initialised_shop, tmp_path):
    # The project truncates its dates in lower case (as jaffle-shop does): so do we.
    model = initialised_shop / "models/staging/stg_orders.sql"
    model.write_text(model.read_text().replace("    order_date,", "    date_trunc('day', order_date) as order_date,"))
    assert apply(initialised_shop, tmp_path) == (
        "with\n"
        "\n"
        "orders as (\n"
        "\n"
        "    select * from {{ ref('stg_orders') }}\n"
        "\n"
        ")\n"
        "\n"
        "select\n"
        "    date_trunc('month', order_date) as order_month,\n"
        "    extract(year from min(order_date)) as first_year,\n"
        "    date_diff('day', min(order_date), max(order_date)) as active_days,\n"
        "    max(order_date) + interval '1' month as month_after_last_order,\n"
        "    count(*) as order_count\n"
        "from orders\n"
        "group by 1\n"
    )


def test_keywords_follow_a_project_that_writes_them_in_upper_case(initialised_shop, tmp_path):
    for model in sorted((initialised_shop / "models").rglob("*.sql")):
        model.write_text(SHOUTED.sub(lambda match: match.group(0).upper(), model.read_text()))
    assert apply(initialised_shop, tmp_path) == (
        "WITH\n"
        "\n"
        "orders AS (\n"
        "\n"
        "    SELECT * FROM {{ ref('stg_orders') }}\n"
        "\n"
        ")\n"
        "\n"
        "SELECT\n"
        "    DATE_TRUNC('MONTH', order_date) AS order_month,\n"
        "    EXTRACT(YEAR FROM MIN(order_date)) AS first_year,\n"
        "    DATE_DIFF('DAY', MIN(order_date), MAX(order_date)) AS active_days,\n"
        "    MAX(order_date) + INTERVAL '1' MONTH AS month_after_last_order,\n"
        "    COUNT(*) AS order_count\n"
        "FROM orders\n"
        "GROUP BY 1\n"
    )


@pytest.mark.parametrize(
    "texts, style",
    [
        ([], SqlStyle()),
        (["select a from t"], SqlStyle(keywords="lower")),
        # a stray upper-case word among many does not make a project mixed; half and half does
        (["select a, b as c from t where x is not null and y in (1) " * 2 + "AS"], SqlStyle(keywords="lower")),
        (["select a from t", "SELECT a FROM t"], SqlStyle()),
        # Jinja, strings, comments and quoted names are not keywords
        (["SELECT {{ config(as='select') }} 'from' AS \"select\" -- from\nFROM t"], SqlStyle(keywords="upper")),
        # date parts: in SQL and in dbt's macros, extract and interval, any known unit
        (
            [
                "select date_trunc('month', x), {{ dbt.dateadd(\"day\", 1, 'x') }} from t",
                "select extract(year from x), x + interval '1 week', interval 2 hours from t",
            ],
            SqlStyle(keywords="lower", date_parts="lower"),
        ),
        (["select DATE_TRUNC('MONTH', x) from t"], SqlStyle(keywords="lower", date_parts="upper")),
        (["select date_trunc('month', x), date_part('YEAR', x) from t"], SqlStyle(keywords="lower")),
        # a string that is not a date part's, or a word that is no date part, says nothing
        (["select coalesce('DAY', x), strftime(x, 'month'), date_trunc(unit, x) from t"], SqlStyle("lower")),
    ],
)
def test_the_style_is_each_cases_clear_majority(texts, style):
    assert sniff_style(texts) == style

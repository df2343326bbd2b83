"""The issue's "done when", end to end on a copy of the sample project, with real dbt and DuckDB.

The LLM is a ScriptedProvider: every call it gets is counted, so "zero calls" is measured.
"""

from __future__ import annotations

import datetime
import json
import re

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.errors import ProviderError
from generator.project import dbt, load_project
from tests.reproducibility_support import (
    BILLING_SUMMARY,
    LOCK,
    MODEL,
    SQL_V1,
    SQL_V2,
    YML,
    breaking_billing_summary,
    digests,
    generate,
)

pytestmark = pytest.mark.dbt


def cli_run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_replay_hand_edit_adopt_and_schema_drift(locked_sample_project):
    project = locked_sample_project

    # Generate: one LLM call, files written and locked.
    report, provider = generate(project, [BILLING_SUMMARY])
    assert (report.status, report.version, provider.calls) == ("written", 1, 1)
    assert report.files == [SQL_V1, YML, LOCK]
    written = digests(project, SQL_V1, YML, LOCK)
    lock = yaml.safe_load((project / LOCK).read_text())
    entry = lock["models"][MODEL][0]
    assert entry["files"] == {SQL_V1: written[SQL_V1], YML: written[YML]}
    assert entry["provenance"]["request"] == "billed, paid and failed amounts per account"
    assert entry["proposal"]["sql"] == BILLING_SUMMARY["sql"]
    assert entry["inputs"]["ref('invoices')"]["uses"] == [
        "account_id", "amount_due", "failed_amount", "invoice_status", "net_paid_amount",
    ]  # fmt: skip

    # Rerun: zero LLM calls, the same bytes, and the summary says so.
    report, provider = generate(project, [])
    assert (report.status, provider.calls) == ("replayed", 0)
    assert digests(project, SQL_V1, YML, LOCK) == written
    text = report.format_text()
    assert text.splitlines()[0] == f"✓ {MODEL} v1 replayed from the lockfile (marts)"
    assert "  LLM calls:   0" in text
    assert f"0 LLM calls: same request and catalog slice as gen_model.lock ({MODEL} v1)" in text

    # Files deleted: the rerun writes them again, byte for byte, still without a call.
    (project / SQL_V1).unlink()
    (project / YML).unlink()
    report, provider = generate(project, [])
    assert (report.status, provider.calls) == ("replayed", 0)
    assert digests(project, SQL_V1, YML, LOCK) == written
    assert f"0 LLM calls: restored 2 file(s) from gen_model.lock ({MODEL} v1), byte-identical to the lock" in (
        report.notes
    )

    # A hand edit: verify fails and names the file.
    edited = (project / SQL_V1).read_text().replace("<> 'void'", "not in ('void', 'draft')")
    assert edited != (project / SQL_V1).read_text()
    (project / SQL_V1).write_text(edited)
    result = cli_run("verify", "--project-dir", str(project))
    assert result.exit_code == 1, result.output
    assert (
        f"      ✗ {SQL_V1}: [files] changed since gen_model.lock ({MODEL} v1) and not adopted. Review the change: "
        f"`gen-model adopt {MODEL}` accepts it as a hand edit, `git checkout -- {SQL_V1}` undoes it"
    ) in result.output.splitlines()
    assert result.output.splitlines()[-1] == "✗ verify failed: 1 problem(s), 0 edited, 0 warning(s)"

    # adopt: verify passes and shows the file as edited.
    result = cli_run("adopt", MODEL, "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    assert f"  {SQL_V1}: edited by hand; recorded" in result.output
    result = cli_run("verify", "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    assert f"  ✎ {MODEL} v1" in result.output.splitlines()
    assert f"      ✎ {SQL_V1}: [files] edited by hand after generation (adopted)" in result.output.splitlines()
    assert result.output.splitlines()[-1] == "✓ verify passed: 0 problem(s), 1 edited, 0 warning(s)"

    # The same request again leaves the hand edit alone.
    report, provider = generate(project, [])
    assert (report.status, provider.calls) == ("replayed", 0)
    assert (project / SQL_V1).read_text() == edited
    assert f"{SQL_V1} was edited by hand (adopted); left as it is" in report.notes

    # An input model loses a column the generated model uses (from its SQL and its contract,
    # as a person would remove it), and is rebuilt: verify names the model and the column.
    invoices_sql = project / "models" / "marts" / "invoices.sql"
    lines = invoices_sql.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.strip().endswith("as failed_amount,")]
    assert len(kept) == len(lines) - 1
    invoices_sql.write_text("".join(kept))
    invoices_yml = project / "models" / "marts" / "invoices.yml"
    contract = invoices_yml.read_text()
    without = re.sub(r"      - name: failed_amount\n(        .*\n|          .*\n)*", "", contract)
    assert "failed_amount" not in without and len(without) < len(contract)
    invoices_yml.write_text(without)
    assert dbt.invoke(load_project(project), ["run", "--select", "invoices"]).success
    result = cli_run("verify", "--project-dir", str(project), "--json")
    assert result.exit_code == 1, result.output
    found = json.loads(result.output)
    assert found["ok"] is False
    assert found["problems"] == [
        {
            "check": "drift",
            "severity": "error",
            "message": f"ref('invoices') no longer has column failed_amount, which {MODEL} v1 uses "
            "(in output column(s) failed_amount_total)",
            "model": MODEL,
            "version": 1,
            "file": SQL_V1,
            "relation": "ref('invoices')",
            "column": "failed_amount",
            "suggestion": "Restore failed_amount in ref('invoices'), or regenerate: "
            'gen-model "billed, paid and failed amounts per account" --refresh',
        }
    ]

    # The same request now sees a changed catalog slice, says what changed, and asks the LLM.
    # (The scripted "LLM" is offline: the error proves it was called.)
    with pytest.raises(ProviderError, match="the LLM is offline") as raised:
        generate(project, [ProviderError("the LLM is offline")])
    [note] = raised.value.report.notes
    assert note.startswith(f"the catalog changed since gen_model.lock ({MODEL} v1): ")
    assert "ref('invoices'): lost column failed_amount;" in note and note.endswith("; asking the LLM")


def test_breaking_regeneration_versions_deprecates_diffs_and_reviews(locked_sample_project):
    project = locked_sample_project
    report, _ = generate(project, [BILLING_SUMMARY])
    assert report.status == "written"
    v1_sql = (project / SQL_V1).read_bytes()

    report, provider = generate(project, [breaking_billing_summary()], refresh=True, deprecation_days=30)
    assert (report.status, report.version, report.previous_version, provider.calls) == ("written", 2, 1, 1)
    date = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    # The contract change first, then what the logic does differently (filters, aggregates).
    reasons = [
        "column failed_amount_total removed",
        "filter added: where not invoice_status in ('void', 'uncollectible')",
        "filter removed: where invoice_status <> 'void'",
        "aggregate removed: sum(failed_amount)",
    ]
    assert report.change == {"class": "breaking", "from_version": 1, "reasons": reasons}
    assert report.deprecations == {1: date}
    assert "  change:      breaking vs v1: column failed_amount_total removed; filter added" in report.format_text()

    # v1 stays as it was, with a deprecation date; v2 is latest and records why it exists.
    assert (project / SQL_V1).read_bytes() == v1_sql
    block = yaml.safe_load((project / YML).read_text())["models"][0]
    assert block["latest_version"] == 2
    v1, v2 = block["versions"]
    assert (v1["v"], str(v1["deprecation_date"]), v2["v"], "deprecation_date" in v2) == (1, date, 2, False)
    assert v2["config"]["meta"]["gen_model"]["change"] == report.change
    lock = yaml.safe_load((project / LOCK).read_text())["models"][MODEL]
    assert [e["v"] for e in lock] == [1, 2] and lock[1]["provenance"]["change"]["class"] == "breaking"
    assert cli_run("verify", "--project-dir", str(project)).exit_code == 0

    # The diff agrees with plain SQL over the two built tables.
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as connection:
        expected = connection.execute(
            f"""
            select
                (select count(*) from main.{MODEL}_v1),
                (select count(*) from main.{MODEL}_v2),
                (select count(*) from (select account_id from main.{MODEL}_v1
                                       except select account_id from main.{MODEL}_v2)),
                (select count(*) from (select account_id from main.{MODEL}_v2
                                       except select account_id from main.{MODEL}_v1)),
                (select count(*) from main.{MODEL}_v1 as a join main.{MODEL}_v2 as b using (account_id)
                 where a.invoice_count <> b.invoice_count),
                (select count(*) from main.{MODEL}_v1 as a join main.{MODEL}_v2 as b using (account_id)
                 where a.amount_due_total <> b.amount_due_total)
            """
        ).fetchone()
    rows_v1, rows_v2, only_v1, only_v2, count_changed, amount_changed = expected
    assert count_changed > 0  # uncollectible invoices exist: the comparison is not vacuous
    result = cli_run("diff", MODEL, "--project-dir", str(project), "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert (found["from_version"], found["to_version"], found["key"]) == (1, 2, ["account_id"])
    assert found["rows"] == {"from": rows_v1, "to": rows_v2}
    assert (found["keys_only_in_from"], found["keys_only_in_to"]) == (only_v1, only_v2)
    changed = {c["name"]: c["changed"] for c in found["columns"]}
    assert (changed["invoice_count"], changed["amount_due_total"]) == (count_changed, amount_changed)
    assert found["removed_columns"] == ["failed_amount_total"] and found["added_columns"] == []
    assert len(found["examples"]["changed"]) == min(5, count_changed)

    # The review: everything a reviewer needs, the same bytes every time.
    first = cli_run("review", MODEL, "--project-dir", str(project))
    second = cli_run("review", MODEL, "--project-dir", str(project))
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    markdown = first.output
    from test_review import count_tests_on

    count = count_tests_on(project, f"model.gen_model.{MODEL}.v2")
    for expected_line in (
        f"## `{MODEL}` v2 (marts): breaking change from v1",
        "> billed, paid and failed amounts per account",
        "| **Change** | **breaking** vs v1: " + "; ".join(reasons) + " |",
        f"| **Previous version** | v1 deprecated on {date}; `ref('{MODEL}', v=1)` keeps working |",
        "| **Lockfile** | files match `gen_model.lock` |",
        f"| **dbt build** | model success; {count} test(s): {count} pass |",
        "where not invoice_status in ('void', 'uncollectible')",  # as sqlformat writes it
        "SQL changes from v1:",
        "-    sum(failed_amount) as failed_amount_total",
        "+where not invoice_status in ('void', 'uncollectible')",
        "| `amount_due_total` | decimal(38,2) | `ref('invoices').amount_due` | aggregate:sum |",
        f"| `not_null` | `account_id` | grain column (verified on {rows_v2:,} rows in the dry run) |",
        f"| Rows | {rows_v1:,} | {rows_v2:,} |",
        f"| Rows whose key is only here | {only_v1:,} | {only_v2:,} |",
        "Columns only in v1: `failed_amount_total`.",
        f"| `invoice_count` | {count_changed:,} | bigint | bigint |",
        "| 1 | `claude-haiku-5-5` | "
        f"{report.attempts[0].input_tokens:,} | {report.attempts[0].output_tokens:,} | "
        f"${report.attempts[0].cost_usd:.4f} | accepted |",
        "Mutation score: not measured (no `target/gen_model/mutation/account_billing_summary.json`).",
    ):
        assert expected_line in markdown.splitlines(), expected_line
    assert "### SQL" in markdown and "### Lineage" in markdown and "### Tests" in markdown
    assert markdown.index("### Data diff: v1 → v2") < markdown.index("### Generation")
    assert SQL_V2 in markdown


def test_cli_generate_replays_and_refresh_asks_again(locked_sample_project):
    project = locked_sample_project
    (project / "answers.yml").write_text(yaml.safe_dump([BILLING_SUMMARY], sort_keys=False))
    (project / ".gen-model.yml").write_text("provider: scripted\nscript: answers.yml\nmodels: [scripted-model]\n")
    request = "billed, paid and failed amounts per account"

    dry = cli_run(request, "--project-dir", str(project), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert MODEL not in (project / LOCK).read_text()  # a dry run records nothing

    first = cli_run(request, "--project-dir", str(project))
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[0] == f"✓ {MODEL} v1 written (marts)"
    assert "  attempts:    1 (scripted-model)" in first.stdout.splitlines()
    written = digests(project, SQL_V1, YML, LOCK)

    again = cli_run(request, "--project-dir", str(project))
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[0] == f"✓ {MODEL} v1 replayed from the lockfile (marts)"
    assert "  LLM calls:   0" in again.stdout.splitlines()
    assert digests(project, SQL_V1, YML, LOCK) == written

    # --refresh asks (the script answers the same proposal, so nothing new is written).
    refreshed = cli_run(request, "--project-dir", str(project), "--refresh", "--json")
    assert refreshed.exit_code == 0, refreshed.output
    report = json.loads(refreshed.stdout)
    assert (report["status"], len(report["attempts"])) == ("unchanged", 1)
    assert digests(project, SQL_V1, YML, LOCK) == written


def test_applying_a_changed_proposal_is_a_non_breaking_new_version(locked_sample_project):
    from tests.conftest import REPO_ROOT

    project = locked_sample_project
    # the sample's latest version is v2 (examples/proposals/account_payment_health_v2.yml)
    proposal = yaml.safe_load((REPO_ROOT / "examples" / "proposals" / "account_payment_health_v2.yml").read_text())
    last_select = "    attempts.last_failed_at\nfrom accounts"
    assert last_select in proposal["sql"]
    added = "    attempts.last_failed_at,\n    1 as health_version\nfrom accounts"
    proposal["sql"] = proposal["sql"].replace(last_select, added)
    proposal["columns"].append({"name": "health_version", "description": "Which definition of health."})
    changed = project / "account_payment_health_v3.yml"
    changed.write_text(yaml.safe_dump(proposal, sort_keys=False))

    result = cli_run("apply", str(changed), "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    assert "  change:      non-breaking vs v2: column health_version added" in result.output.splitlines()
    assert "deprecated:" not in result.output
    block = yaml.safe_load((project / "models" / "marts" / "account_payment_health.yml").read_text())["models"][0]
    assert [("deprecation_date" in v, v["v"]) for v in block["versions"]] == [(False, 1), (False, 2), (False, 3)]
    entry = yaml.safe_load((project / LOCK).read_text())["models"]["account_payment_health"][2]
    assert entry["provenance"]["origin"] == "proposal-file"
    assert entry["provenance"]["proposal_file"] == "account_payment_health_v3.yml"
    assert entry["provenance"]["change"] == {
        "class": "non-breaking",
        "from_version": 2,
        "reasons": ["column health_version added"],
    }
    assert cli_run("verify", "--project-dir", str(project)).exit_code == 0
    diff = json.loads(cli_run("diff", "account_payment_health", "--project-dir", str(project), "--json").output)
    assert diff["added_columns"] == ["health_version"]
    assert diff["keys_only_in_from"] == diff["keys_only_in_to"] == 0
    assert all(column["changed"] == 0 for column in diff["columns"])

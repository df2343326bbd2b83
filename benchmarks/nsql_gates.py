"""Run the SQL gates over the DuckDB-NSQL dev set: real DuckDB questions we did not write.

Each gold query becomes a proposal: its bare table names are swapped for
`{{ source('<db_id>', '<table>') }}` (located with sqlglot's token positions), and the
catalog of its database is read from the DuckDB file itself (read-only). Then parse,
references, binding, safety and determinism run; safety and determinism also run when
an earlier gate already refused, so defence in depth is measured too.

    python benchmarks/nsql_gates.py [corpus-dir]

prints one line per query (index, category, verdict, rules that refused, first message)
and the false-reject rate: valid read-only queries refused for a reason the
expectations file (tests/fixtures/nsql_expectations.yml) does not give.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import sqlglot
import yaml
from sqlglot import exp

from generator.errors import Problem
from generator.gates.binding import BindingRule
from generator.gates.determinism import DeterminismRule
from generator.gates.parse import ParseRule, quiet_sqlglot
from generator.gates.references import ReferencesRule, visible_ctes
from generator.gates.safety import SafetyRule
from generator.project.catalog import Catalog, Column, Relation
from generator.proposal import ColumnSpec, Proposal
from generator.sql.context import GateContext

ROOT = Path(__file__).resolve().parent.parent
# CI checks out the repo next to shared/; worktrees sit one level deeper.
CORPUS_CANDIDATES = (
    ROOT.parent / "shared" / "corpora" / "duckdb-nsql",
    ROOT.parent.parent / "shared" / "corpora" / "duckdb-nsql",
)
EXPECTATIONS = ROOT / "tests" / "fixtures" / "nsql_expectations.yml"


@dataclass(frozen=True)
class Case:
    index: int
    db_id: str
    category: str
    question: str
    query: str


@dataclass(frozen=True)
class Verdict:
    case: Case
    sql: str  # the proposal SQL the gates saw
    rejected_by: tuple[str, ...]
    problems: tuple[Problem, ...]

    @property
    def passed(self) -> bool:
        return not self.rejected_by


def find_corpus(path: str | Path | None = None) -> Path | None:
    """The corpus directory ($NSQL_CORPUS or ../shared/corpora/duckdb-nsql), or None."""
    candidates = [Path(path)] if path else []
    if os.environ.get("NSQL_CORPUS"):
        candidates.append(Path(os.environ["NSQL_CORPUS"]))
    candidates.extend(CORPUS_CANDIDATES)
    return next((c for c in candidates if (c / "dev.json").is_file()), None)


def load_cases(corpus: Path) -> list[Case]:
    data = json.loads((corpus / "dev.json").read_text())
    return [Case(i, item["db_id"], item["category"], item["question"], item["query"]) for i, item in enumerate(data)]


@lru_cache(maxsize=32)
def catalog_for(corpus: Path, db_id: str) -> Catalog:
    """A catalog with one source per table of `db_id`, typed by DuckDB itself."""
    path = corpus / "databases" / db_id / f"{db_id}.duckdb"
    relations: list[Relation] = []
    if path.is_file():
        connection = duckdb.connect(str(path), read_only=True)
        try:
            rows = connection.execute(
                "select table_name, column_name, lower(data_type) from duckdb_columns() "
                "where not internal and schema_name = 'main' order by table_name, column_index"
            ).fetchall()
            keys = connection.execute(
                "select table_name, constraint_type, constraint_column_names "
                "from duckdb_constraints() where constraint_type in ('PRIMARY KEY', 'UNIQUE')"
            ).fetchall()
        finally:
            connection.close()
        tables: dict[str, list[Column]] = {}
        for table, column, data_type in rows:
            tables.setdefault(table, []).append(Column(name=column, data_type=data_type))
        primary = {t: tuple(cols) for t, kind, cols in keys if kind == "PRIMARY KEY"}
        unique = {(t, cols[0]) for t, kind, cols in keys if kind == "UNIQUE" and len(cols) == 1}
        for table, columns in tables.items():
            columns = [Column(c.name, c.data_type, unique=(table, c.name) in unique) for c in columns]
            relations.append(
                Relation(
                    unique_id=f"source.nsql.{db_id}.{table}",
                    resource_type="source",
                    name=table,
                    database=db_id,
                    schema="main",
                    identifier=table,
                    source_name=db_id,
                    columns=tuple(columns),
                    primary_key=primary.get(table, ()),
                )
            )
    return Catalog(project_name="nsql", project_dir=corpus, relations=tuple(relations))


def to_proposal_sql(query: str, catalog: Catalog) -> str:
    """Replace the query's bare table names with source() calls, at sqlglot's positions."""
    try:
        with quiet_sqlglot():
            trees = [t for t in sqlglot.parse(query, read="duckdb") if t is not None]
    except sqlglot.errors.SqlglotError:
        return query
    if len(trees) != 1:
        return query
    edits: list[tuple[int, int, str]] = []
    for table in trees[0].find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue
        if not table.args.get("db") and table.name.lower() in visible_ctes(table):
            continue
        relation = next((r for r in catalog.relations if r.identifier.lower() == table.name.lower()), None)
        qualifier = [p.name.lower() for p in table.parts[:-1]]
        if relation is None or (qualifier and qualifier[-1] not in (relation.database, "main")):
            continue
        positioned = [p for p in table.parts if p._meta and "start" in p._meta]
        if not positioned:
            continue
        start, end = positioned[0].meta["start"], positioned[-1].meta["end"]
        if query[end : end + 1] in ('"', "'") and query[end] != query[start]:
            end += 1  # the closing quote of a quoted name
        edits.append((start, end, relation.jinja()))
    for start, end, text in sorted(edits, reverse=True):
        query = query[:start] + text + query[end + 1 :]
    return query


def run_case(case: Case, catalog: Catalog) -> Verdict:
    """Turn the gold query into a proposal and run the static gates over it."""
    return check_case(case, to_proposal_sql(case.query, catalog), catalog)


def check_case(case: Case, sql: str, catalog: Catalog) -> Verdict:
    """The static gates over `sql` (the case's proposal SQL): what a proposal costs them."""
    proposal = Proposal(
        name=f"nsql_{case.index}",
        layer="marts",
        description=case.question,
        grain=("x",),
        sql=sql,
        columns=(ColumnSpec("x"),),
    )
    ctx = GateContext(proposal=proposal, catalog=catalog)
    rejected: list[str] = []
    problems: list[Problem] = []

    def run(rule) -> bool:
        found = rule.check(ctx)
        if found:
            rejected.append(rule.name)
            problems.extend(found)
        return not found

    parsed = run(ParseRule())
    if parsed and run(ReferencesRule()):
        run(BindingRule())
    if ctx.tree is not None:  # defence in depth: these also judge what parse refused
        run(SafetyRule())
        run(DeterminismRule())
    return Verdict(case, sql, tuple(rejected), tuple(problems))


def load_expectations(path: Path = EXPECTATIONS) -> dict[int, dict]:
    data = yaml.safe_load(path.read_text())
    return {int(index): item for index, item in data["queries"].items()}


def expected_rules(expectation: dict) -> tuple[str, ...]:
    reject = expectation.get("reject")
    if not reject:
        return ()
    return tuple([reject] if isinstance(reject, str) else reject)


def run_corpus(corpus: Path) -> list[Verdict]:
    catalogs: dict[str, Catalog] = {}
    verdicts = []
    for case in load_cases(corpus):
        if case.db_id not in catalogs:
            catalogs[case.db_id] = catalog_for(corpus, case.db_id)
        verdicts.append(run_case(case, catalogs[case.db_id]))
    return verdicts


def false_rejects(verdicts: list[Verdict], expectations: dict[int, dict]) -> tuple[list[Verdict], int]:
    """Valid read-only queries refused for a reason the expectations do not give."""
    valid = [v for v in verdicts if expectations.get(v.case.index, {}).get("valid_read_only")]
    wrong = [v for v in valid if set(v.rejected_by) - set(expected_rules(expectations[v.case.index]))]
    return wrong, len(valid)


def main(argv: list[str]) -> int:
    corpus = find_corpus(argv[1] if len(argv) > 1 else None)
    if corpus is None:
        print("corpus not found: pass the duckdb-nsql directory", file=sys.stderr)
        return 2
    verdicts = run_corpus(corpus)
    expectations = load_expectations() if EXPECTATIONS.is_file() else {}
    print(f"{'#':>3}  {'category':<8}  {'verdict':<7}  {'rules':<28}  first problem")
    for verdict in verdicts:
        rules = ",".join(verdict.rejected_by) or "-"
        first = verdict.problems[0] if verdict.problems else None
        message = f"{first.line}:{first.col} {first.message}" if first else ""
        state = "pass" if verdict.passed else "reject"
        print(f"{verdict.case.index:>3}  {verdict.case.category:<8}  {state:<7}  {rules:<28}  {message[:90]}")
    if expectations:
        wrong, valid = false_rejects(verdicts, expectations)
        rate = len(wrong) / valid if valid else 0.0
        print(
            f"\nvalid read-only queries: {valid}; rejected for a wrong reason: {len(wrong)} "
            f"(false-reject rate {rate:.1%})"
        )
        for verdict in wrong:
            print(
                f"  #{verdict.case.index}: {', '.join(verdict.rejected_by)}: "
                f"{verdict.problems[0].message if verdict.problems else ''}"
            )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main(sys.argv))

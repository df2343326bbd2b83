"""Data tests as plain data: what the writer puts under `data_tests:` and why.

Every test carries a `reason` (written to `config.meta.reason`): one line saying what
evidence it rests on. No test comes from the LLM's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Test names as dbt resolves them: the package's tests live in the gen_model namespace,
# dbt's own four need no prefix.
PACKAGE = "gen_model"
BUILTIN_TESTS = ("not_null", "unique", "accepted_values", "relationships")


@dataclass(frozen=True)
class DataTest:
    """One dbt data test on a model (column is None) or on one of its columns."""

    name: str  # e.g. 'not_null', 'accepted_values', 'gen_model.unique_combination_of_columns'
    column: str | None = None
    arguments: dict = field(default_factory=dict, compare=False, hash=False)
    reason: str = ""
    kind: str = ""  # grain | not_null | accepted_values | relationships | range | rowcount | invariant
    where: str | None = None  # dbt's `where:` config (filters the model, never compare_model)
    # Where the evidence comes from: proven (by the SQL) | inherited (an upstream test) |
    # observed (today's data: only the warn-severity grain test of --allow-observed-grain; see
    # generator.testgen.derive). Not written to the YAML.
    evidence: str = field(default="proven", compare=False)
    # dbt's `severity:`; "warn" only for a grain observed in the data (--allow-observed-grain).
    severity: str | None = None

    def to_yaml(self) -> dict | str:
        """The YAML entry under `data_tests:`."""
        body: dict = {}
        if self.arguments:
            body["arguments"] = dict(self.arguments)
        config: dict = {}
        if self.where:
            config["where"] = self.where
        if self.severity:
            config["severity"] = self.severity
        if self.reason:
            config["meta"] = {"reason": self.reason}
        if config:
            body["config"] = config
        return {self.name: body} if body else self.name

    @property
    def key(self) -> tuple:
        """Identity for de-duplication: the same test on the same thing with the same arguments."""
        return (self.name, self.column, repr(sorted(self.arguments.items())), self.where)

    @property
    def macro(self) -> str:
        """The test's name without its package: 'unique_combination_of_columns', 'not_null'."""
        return self.name.split(".", 1)[1] if "." in self.name else self.name

    def describe(self) -> str:
        """Short human form: `not_null(account_id)`, `gen_model.fewer_rows_than`."""
        return f"{self.name}({self.column})" if self.column else self.name


def grain_tests(
    grain: tuple[str, ...] | list[str], row_count: int | None, observed: str | None = None
) -> list[DataTest]:
    """The grain test every generated model gets: unique together and each key not null.

    `observed` (why the SQL does not guarantee the grain, from --allow-observed-grain) makes
    the uniqueness test warn instead of fail: new data may legitimately break it.
    """
    verified = f" (verified on {row_count:,} rows in the dry run)" if row_count is not None else ""
    reason = f"declared grain {', '.join(grain)}{verified}"
    tests = [
        DataTest(
            name="gen_model.unique_combination_of_columns",
            arguments={"combination_of_columns": list(grain)},
            reason=f"observed grain, unique in today's data only: {observed}" if observed else reason,
            kind="grain",
            evidence="observed" if observed else "proven",
            severity="warn" if observed else None,
        )
    ]
    tests += [
        DataTest(
            name="not_null",
            column=column,
            reason=f"grain column{verified}",
            kind="grain",
        )
        for column in grain
    ]
    return tests

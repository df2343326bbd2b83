"""What a run did, once: the human summary and the `--json` report are two views of it."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from generator.errors import Problem

if TYPE_CHECKING:  # an annotation only: the gates (and sqlglot) load when a proposal is checked
    from generator.gates.base import GateReport


@dataclass
class AttemptRecord:
    """One LLM call and what became of its answer."""

    number: int
    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    outcome: str = ""  # accepted | rejected | failed
    problems: int = 0
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "number": self.number,
            "provider": self.provider,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "outcome": self.outcome,
            "problems": self.problems,
            "error": self.error,
        }


@dataclass
class RunReport:
    """Everything a reviewer (or CI) needs to know about one `generate`/`apply` run."""

    command: str
    status: str = "pending"  # written | dry-run | rejected | failed | replayed
    model: str | None = None
    layer: str | None = None
    version: int | None = None
    previous_version: int | None = None
    files: list[str] = field(default_factory=list)
    file_contents: dict[str, str] = field(default_factory=dict)
    gates: GateReport | None = None
    tests: list = field(default_factory=list)  # DataTest
    unit_tests: int = 0
    dropped_tests: list[dict] = field(default_factory=list)
    rows: int | None = None
    columns: list = field(default_factory=list)  # ContractColumn
    attempts: list[AttemptRecord] = field(default_factory=list)
    build: dict | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float | None = None
    # Against the previous version: {"class": "breaking"|"non-breaking", "from_version", "reasons"}.
    change: dict | None = None
    deprecations: dict[int, str] = field(default_factory=dict)  # superseded version -> date

    @property
    def tokens_in(self) -> int:
        return sum(a.input_tokens for a in self.attempts)

    @property
    def tokens_out(self) -> int:
        return sum(a.output_tokens for a in self.attempts)

    @property
    def cost_usd(self) -> float | None:
        if not self.attempts:
            return 0.0
        costs = [a.cost_usd for a in self.attempts]
        return None if any(c is None for c in costs) else round(sum(costs), 6)

    def to_dict(self) -> dict:
        return {
            "command": self.command,
            "status": self.status,
            "model": self.model,
            "layer": self.layer,
            "version": self.version,
            "previous_version": self.previous_version,
            "files": self.files,
            "gates": [
                {"name": o.name, "status": o.status, "problems": len(o.problems)}
                for o in (self.gates.outcomes if self.gates else ())
            ],
            "tests": [{"name": t.name, "column": t.column, "kind": t.kind, "reason": t.reason} for t in self.tests],
            "unit_tests": self.unit_tests,
            "dropped_tests": self.dropped_tests,
            "rows": self.rows,
            "columns": [{"name": c.name, "data_type": c.data_type} for c in self.columns],
            "attempts": [a.to_dict() for a in self.attempts],
            "tokens": {"input": self.tokens_in, "output": self.tokens_out},
            "cost_usd": self.cost_usd,
            "build": self.build,
            "file_contents": self.file_contents if self.status == "dry-run" else {},
            "problems": [p.to_dict() for p in self.problems],
            "notes": self.notes,
            "change": self.change,
            "deprecations": {str(version): date for version, date in sorted(self.deprecations.items())},
            "elapsed_s": round(self.elapsed_s, 2) if self.elapsed_s is not None else None,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def format_text(self) -> str:
        """The summary printed at the end of a run."""
        headline = {
            "written": f"✓ {self.model} v{self.version} written ({self.layer})",
            "replayed": f"✓ {self.model} v{self.version} replayed from the lockfile ({self.layer})",
            "dry-run": f"✓ {self.model} v{self.version} passed every gate (dry run: nothing written)",
            "unchanged": f"✓ {self.model} v{self.version} is up to date (nothing written)",
            "rejected": f"✗ {self.model or 'proposal'} rejected",
            "failed": f"✗ {self.model or 'proposal'} failed",
        }.get(self.status, self.status)
        lines = [headline]
        label = "would write" if self.status == "dry-run" else "files"
        for index, path in enumerate(self.files):
            lines.append(f"  {label + ':' if index == 0 else '':<13}{path}")
        if self.gates:
            marks = {"passed": "✓", "failed": "✗", "skipped": "-"}
            lines.append("  gates:       " + " ".join(f"{o.name} {marks[o.status]}" for o in self.gates.outcomes))
        if self.tests or self.unit_tests:
            kinds = Counter(t.kind or t.name for t in self.tests)
            detail = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
            text = f"  tests:       {len(self.tests)} data tests ({detail})"
            if self.unit_tests:
                text += f", {self.unit_tests} unit test{'s' if self.unit_tests > 1 else ''}"
            lines.append(text)
        if self.dropped_tests:
            lines.append(f"  dropped:     {len(self.dropped_tests)} derived test(s) the hollow-test gate refused")
            for dropped in self.dropped_tests:
                lines.append(f"               - {dropped['test']}: {dropped['why']}")
        if self.build:
            lines.append(
                f"  dbt build:   {self.build['passed']} passed, {self.build['failed']} failed"
                + (f" ({self.build['selector']})" if self.build.get("selector") else "")
            )
        if self.rows is not None:
            lines.append(f"  rows:        {self.rows:,}")
        if self.change:
            since = f" vs v{self.change['from_version']}" if self.change.get("from_version") else ""
            reasons = "; ".join(self.change.get("reasons") or ())
            lines.append(f"  change:      {self.change['class']}{since}: {reasons}")
        for version, date in sorted(self.deprecations.items()):
            still = f"ref('{self.model}', v={version}) still works"
            lines.append(f"  deprecated:  v{version} on {date} (deprecation_date; {still})")
        if self.attempts:
            models = ", ".join(dict.fromkeys(a.model for a in self.attempts))
            lines.append(f"  attempts:    {len(self.attempts)} ({models})")
            cost = "unknown" if self.cost_usd is None else f"${self.cost_usd:.4f}"
            lines.append(f"  tokens:      {self.tokens_in:,} in / {self.tokens_out:,} out, est. cost {cost}")
        elif self.command == "apply" or self.status == "replayed":
            lines.append("  LLM calls:   0")
        for note in self.notes:
            lines.append(f"  note:        {note}")
        if self.status == "dry-run":
            for path, content in self.file_contents.items():
                lines += ["", f"----- {path} -----", content.rstrip("\n")]
        if self.problems:
            lines.append("")
            lines.extend(problem.format() for problem in self.problems)
        return "\n".join(lines)

"""The deterministic gates a proposal must pass before anything is written.

GATES is the pipeline, in order. Each rule lives in a module of its own: the static gates
(parse, references, binding, safety, determinism) need only the catalog; the last three
execute the proposal in the DuckDB sandbox.
"""

from generator.gates.base import GateReport, Rule, run_gates
from generator.gates.binding import BindingRule
from generator.gates.contract import Contract
from generator.gates.determinism import DeterminismRule, nondeterminism_problems
from generator.gates.dry_run import DryRun
from generator.gates.grain import Grain
from generator.gates.parse import ParseRule
from generator.gates.references import ReferencesRule
from generator.gates.safety import SafetyRule
from generator.sql.context import GateContext

GATES: tuple[Rule, ...] = (
    ParseRule(),
    ReferencesRule(),
    BindingRule(),
    SafetyRule(),
    DeterminismRule(),
    DryRun(),
    Grain(),
    Contract(),
)

__all__ = ["GATES", "GateContext", "GateReport", "Rule", "nondeterminism_problems", "run_gates"]

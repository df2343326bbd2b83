"""The deterministic gates a proposal must pass before anything is written.

GATES is the pipeline, in order. Each rule lives in a module of its own; later stages
(dry run, grain, contract) are appended after these.
"""

from generator.gates.base import GateContext, GateReport, Rule, run_gates
from generator.gates.binding import BindingRule
from generator.gates.determinism import DeterminismRule, nondeterminism_problems
from generator.gates.parse import ParseRule
from generator.gates.references import ReferencesRule
from generator.gates.safety import SafetyRule

GATES: tuple[Rule, ...] = (
    ParseRule(),
    ReferencesRule(),
    BindingRule(),
    SafetyRule(),
    DeterminismRule(),
)

__all__ = ["GATES", "GateContext", "GateReport", "Rule", "nondeterminism_problems", "run_gates"]

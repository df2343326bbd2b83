"""The deterministic gates a proposal must pass before anything is written.

GATES is the pipeline, in order. Each rule lives in a module of its own.
"""

from generator.gates.base import GateContext, GateReport, Rule, run_gates
from generator.gates.contract import Contract
from generator.gates.dry_run import DryRun
from generator.gates.grain import Grain

GATES: tuple[Rule, ...] = (
    DryRun(),
    Grain(),
    Contract(),
)

__all__ = ["GATES", "GateContext", "GateReport", "Rule", "run_gates"]

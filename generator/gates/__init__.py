"""The deterministic gates a proposal must pass before anything is written.

GATES is the pipeline, in order. Each rule lives in a module of its own.
"""

from generator.gates.base import GateContext, GateReport, Rule, run_gates

GATES: tuple[Rule, ...] = ()

__all__ = ["GATES", "GateContext", "GateReport", "Rule", "run_gates"]

"""The deterministic gates a proposal must pass before anything is written.

GATES is the pipeline, in order. Each rule lives in a module of its own: the static gates
(parse, references, binding, safety, determinism) need only the catalog; the last four
execute the proposal in the DuckDB sandbox.

SPEC_RULES is the same for a `kind: enrich` proposal, whose spec compiles to a Python model:
spec, input, lookup and compile need only the catalog and the raw dir; execute runs the
compiled model on the real file in a child process; grain and contract read its result.
"""

from generator.gates.base import GateReport, Rule, run_gates
from generator.gates.binding import BindingRule
from generator.gates.contract import Contract
from generator.gates.determinism import DeterminismRule, nondeterminism_problems
from generator.gates.dry_run import DryRun
from generator.gates.enrich_compiles import Compiles
from generator.gates.enrich_contract import ContractHolds
from generator.gates.enrich_executes import Executes
from generator.gates.enrich_grain import KeyIsGrain
from generator.gates.enrich_input import InputExists
from generator.gates.enrich_lookup import LookupExists
from generator.gates.enrich_schema import SpecSchema
from generator.gates.finite import Finite
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
    Finite(),
    Contract(),
)

SPEC_RULES: tuple[Rule, ...] = (
    SpecSchema(),
    InputExists(),
    LookupExists(),
    Compiles(),
    Executes(),
    KeyIsGrain(),
    ContractHolds(),
)

__all__ = ["GATES", "SPEC_RULES", "GateContext", "GateReport", "Rule", "nondeterminism_problems", "run_gates"]

"""`--also-on TARGET` for `gen-model apply` / `generate`: the new model, ported in the run's own transaction.

After the accepted model is written and `dbt build` passed on the default target, and before
that transaction commits, the model goes through exactly `gen-model port MODEL --to TARGET
--write`: the rules, the proof on both engines (its unit-test rows and a sample of its real
inputs), then the ported file, dbt_project.yml's switches, the contract's per-engine types
and the lockfile's `ports:` entry, written into the same transaction. Any refusal (a
construct with a known difference, located; rows that differ; a project the port cannot go
into) raises, and the run rolls back everything it wrote: the model is not half-shipped to
one engine.

Parts cut from a timestamp with time zone count as the same on both engines only when
profiles.yml pins one session time zone on both targets (DuckDB's `settings: TimeZone`,
Spark's `server_side_parameters: spark.sql.session.timeZone`), as profiles.yml.example does.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from generator.port.model import PortedModel, port_model
from generator.port.write import PortWriteError, port_files
from generator.project import Project

# Where each adapter's profile pins the session time zone: (mapping key, setting name).
_ZONE_SETTINGS = {
    "duckdb": ("settings", "timezone"),
    "spark": ("server_side_parameters", "spark.sql.session.timezone"),
    "databricks": ("server_side_parameters", "spark.sql.session.timezone"),
}


def _pinned_zone(output: object) -> str | None:
    if not isinstance(output, dict):
        return None
    where = _ZONE_SETTINGS.get(str(output.get("type")))
    settings = output.get(where[0]) if where else None
    if not isinstance(settings, dict):
        return None
    value = next((value for key, value in settings.items() if str(key).lower() == where[1]), None)
    # A value computed by Jinja (env_var) is not known here: not pinned, as far as we can tell.
    return value if isinstance(value, str) and value and "{" not in value else None


def _outputs(project: Project) -> tuple[dict, dict]:
    """(the run's target output, every output) of the project's profile; empty when unreadable."""
    try:
        profiles = yaml.safe_load((Path(project.profiles_dir) / "profiles.yml").read_text(encoding="utf-8"))
        profile = profiles[project.profile_name]
        outputs = profile["outputs"]
        here = outputs[project.target or profile["target"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return {}, {}
    return (here if isinstance(here, dict) else {}), (outputs if isinstance(outputs, dict) else {})


def same_time_zone(project: Project, target: str) -> bool:
    """Do the run's target and the profile's first `target` output pin one session time zone?"""
    here, outputs = _outputs(project)
    of_target = [output for output in outputs.values() if isinstance(output, dict) and output.get("type") == target]
    zone = _pinned_zone(here)
    return zone is not None and zone == _pinned_zone(of_target[0] if of_target else None)


def _differing_rows(ported: PortedModel) -> str:
    lines = []
    for row_set in ported.proof.sets if ported.proof else ():
        if not row_set.equal:
            lines += [f"{row_set.name}: only on duckdb {row}" for row in row_set.only_duckdb]
            lines += [f"{row_set.name}: only on {ported.target} {row}" for row in row_set.only_target]
    return "; ".join(lines[:6])


def port_into(project: Project, name: str, target: str, transaction, spark=None) -> PortedModel:
    """Port the just-built model `name` to `target` and write the port through `transaction`
    (a `write.transaction.FileTransaction` the caller commits or rolls back). Raises PortError,
    ProofError or PortWriteError, located, when the port is refused; nothing is written then."""
    here, _ = _outputs(project)
    if here.get("type") not in (None, "duckdb"):
        raise PortWriteError(f"--also-on ports a model generated on DuckDB; this run's target is {here.get('type')}")
    ported = port_model(project, name, target, same_time_zone=same_time_zone(project, target), prove=True, spark=spark)
    if ported.proof is None or not ported.proof.holds:
        raise PortWriteError(
            f"--also-on {target}: {name} gives other rows on {target} ({_differing_rows(ported)}); "
            "it is not portable as written"
        )
    files, _ = port_files(project, ported)
    for path, text in files:
        transaction.write(path, text)
    return ported

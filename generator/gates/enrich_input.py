"""input: the spec's input file exists under the raw dir, in the format it says."""

from __future__ import annotations

from difflib import get_close_matches

from generator.enrich.discovery import EXTENSIONS, resolve_raw_dir
from generator.errors import Problem
from generator.gates.base import Rule
from generator.gates.enrich_context import SpecContext


class InputExists(Rule):
    """The spec's input file exists under the raw dir, in the format it says."""

    name = "input"
    requires = ("spec",)

    def check(self, ctx: SpecContext) -> list[Problem]:
        spec = ctx.spec
        ctx.raw_dir = resolve_raw_dir(ctx.catalog.project_dir)
        pattern = spec.input.path
        if not ctx.raw_dir.is_dir():
            return [
                ctx.problem(
                    self.name,
                    f"the raw dir {ctx.raw_dir} does not exist, so {pattern!r} cannot be read",
                    identifier=pattern,
                    suggestion="Set the dbt var gen_model_raw_path (or GEN_MODEL_RAW_PATH) to "
                    "the folder holding the raw files.",
                )
            ]
        ctx.input_files = sorted(p for p in ctx.raw_dir.glob(pattern) if p.is_file())
        known = sorted({raw.input_path for raw in ctx.catalog.raw_files if raw.input_path})
        if not ctx.input_files:
            close = get_close_matches(pattern, known, n=1, cutoff=0.5)
            return [
                ctx.problem(
                    self.name,
                    f"spec.input.path {pattern!r} matches no file under the raw dir {ctx.raw_dir}",
                    identifier=pattern,
                    suggestion=(f"Did you mean {close[0]!r}? " if close else "")
                    + (f"Raw files: {', '.join(known)}." if known else "The raw dir has no data files."),
                )
            ]
        problems = []
        for path in ctx.input_files:
            relative = path.relative_to(ctx.raw_dir).as_posix()
            # The catalog sniffed the format (NDJSON saved as .json, say); else the extension.
            sniffed = [raw.format for raw in ctx.catalog.raw_files if raw.input_path == relative]
            listed = sniffed[0] if sniffed else EXTENSIONS.get(path.suffix.lower())
            # A .json file may hold NDJSON: by its extension alone, either reading is plausible.
            plausible = not sniffed and {listed, spec.input.format} == {"json", "ndjson"}
            if listed and listed != spec.input.format and not plausible:
                problems.append(
                    ctx.problem(
                        self.name,
                        f"{relative} is {listed}, but the spec reads it as {spec.input.format}",
                        identifier=spec.input.format,
                        suggestion=f"Set spec.input.format to {listed}.",
                    )
                )
        return problems


__all__ = ["InputExists"]

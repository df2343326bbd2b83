"""The compiled model's text: only what its spec says, around the versioned runtime.

`ModelWriter(spec, spec_file).render()` is the Python model: `<name>` under `on_error:
fail`, `<name>__checked` under `on_error: quarantine`. It holds the spec as data (the
expected fields, the output schema) and the spec's own functions (`cast_fields`,
`derive`, `check_rows`, `filter_rows`, the lookup), and hands them to the runtime
(`python/gen_model_runtime_v<RUNTIME_VERSION>.py` in the gen_model dbt package), which
reads, checks, deduplicates and streams the rows. `render_sql()` is the SQL select from
`<name>__checked` that the model and its quarantine are under `on_error: quarantine`: the
input is read once. Layout comes from `formatting`, casts from `casts`.
"""

from __future__ import annotations

import re

from generator.enrich.casts import ISO_8601, cast_source
from generator.enrich.expressions import HELPERS, py_literal
from generator.enrich.formatting import comment, docstring, one_docstring, parenthesised, py_list, wrapped
from generator.enrich.spec import EnrichSpec
from generator.enrich.types import DataType

COMPILER_VERSION = 1
# The runtime a compiled model imports. A change to what the runtime does is a new version
# (a new file beside the old one): models compiled for an older version keep theirs.
RUNTIME_VERSION = 1
RUNTIME_MODULE = f"gen_model_runtime_v{RUNTIME_VERSION}"
# Where a model looks for the runtime, relative to the dbt project dir (dbt runs from it):
# the gen_model package itself, a project that installed it (dbt deps) or vendored it
# (gen-model init). Fixed here, never read from data.
RUNTIME_DIRS = ("python", "dbt_packages/gen_model/python", "vendor/gen_model/python")
# What `<name>__checked` adds to the output columns, and what the quarantine calls them.
STATUS_COLUMNS = (
    ("_source_file", "source_file"),
    ("_source_row", "source_row"),
    ("_source_record", "source_record"),
    ("_error", "error"),
)

LOADER = '''\
RUNTIME = "{module}"
# Where the runtime ships (the gen_model dbt package), relative to the dbt project dir that
# dbt runs from: the package itself, installed by dbt deps, or vendored by gen-model init.
RUNTIME_DIRS = {dirs}


def load_runtime():
    """The gen-model runtime this model was compiled for, loaded once per process."""
    if RUNTIME in sys.modules:
        return sys.modules[RUNTIME]
    paths = [Path(folder, f"{{RUNTIME}}.py").resolve() for folder in RUNTIME_DIRS]
    path = next((path for path in paths if path.is_file()), None)
    if path is None:
        raise RuntimeError(
            f"gen-model runtime v{version} not found at {{', '.join(map(str, paths))}}; "
            "run gen-model init / dbt deps"
        )
    spec = importlib.util.spec_from_file_location(RUNTIME, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Shared once complete: dbt runs models in threads, which may load it at the same time.
    return sys.modules.setdefault(RUNTIME, module)


rt = load_runtime()
'''


def checked_ref(spec: EnrichSpec) -> str:
    """The Jinja that names `<name>__checked` in the SQL of the model and its quarantine."""
    return f"{{{{ ref({py_literal(spec.checked_name)}) }}}}"


# DuckDB's reserved words (duckdb_keywords(): reserved and type_function): a spec column
# named like one is quoted in the compiled SQL; others are not (the project's SQL style).
RESERVED = frozenset(
    """
    all analyse analyze and anti any array as asc asof asymmetric at authorization binary both
    by case cast check collate collation column columns concurrently constraint create cross
    default deferrable desc describe distinct do else end except false fetch for foreign freeze
    from full generated glob group having ilike in initially inner intersect into is isnull join
    lambda lateral leading left like limit map natural not notnull null offset on only or order
    outer overlaps pivot pivot_longer pivot_wider placing positional primary qualify references
    returning right select semi show similar some struct summarize symmetric table tablesample
    then to trailing true try_cast tuple union unique unpack unpivot using variadic verbose when
    where window with
    """.split()
)


def sql_identifier(name: str) -> str:
    """A column name for DuckDB, quoted only when it must be (a reserved word, say)."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


class ModelWriter:
    """The text of one spec's compiled files, section by section."""

    def __init__(self, spec: EnrichSpec, spec_file: str):
        self.spec = spec
        self.spec_file = spec_file
        self.helpers: set[str] = set()
        self.casts: list[tuple[str, str]] = []
        self.failures: list[tuple[str, str, str]] = []  # (column, input field, type name)
        self.uses_iso = False
        for column in spec.columns:
            if column.source is None:
                continue
            source, can_fail, helpers = cast_source(column)
            self.uses_iso |= "ISO_8601" in source
            self.helpers |= helpers
            self.casts.append((column.name, source))
            if can_fail:
                assert column.cast_to is not None
                self.failures.append((column.name, column.source, column.cast_to.name))
        self.expression_helpers: set[str] = set()
        for column in spec.columns:
            if column.expr is not None:
                self.expression_helpers |= column.expr.helpers
        for compiled in spec.filters:
            self.expression_helpers |= compiled.helpers
        if spec.lookup:
            self.expression_helpers |= spec.lookup.key.helpers | spec.lookup.lookup_key.helpers

    @property
    def checked(self) -> bool:
        """The Python model is `<name>__checked` (bad rows kept for the quarantine)."""
        return self.spec.on_error == "quarantine"

    # -- sections ----------------------------------------------------------------------

    def provenance(self) -> str:
        """Where the file came from, for every compiled file's header."""
        return (
            f"Compiled by gen-model (enrich compiler {COMPILER_VERSION}, runtime v{RUNTIME_VERSION}) "
            f"from {self.spec_file}, sha256 {self.spec.sha256[:16]}. Do not edit: change the spec "
            "and recompile."
        )

    def header(self) -> str:
        """The module docstring: what the model is, where it came from, what its input is."""
        spec = self.spec
        if self.checked:
            title = (
                f"{spec.checked_name}: {spec.model_file}'s input read once and checked: the good "
                f"rows for {spec.model_file}, the bad ones (file, row, record, reason) for "
                f"{spec.quarantine_name}."
            )
        else:
            title = f"{spec.model_file}: {spec.description}"
        lines = [
            docstring('"""' + title),
            "",
            docstring(self.provenance()),
            "",
            docstring(
                f"Input: {spec.input.path} ({spec.input.format}) under the raw dir, the dbt var "
                f"gen_model_raw_path (relative to the dbt project). Bad rows: "
                + (
                    "the build fails and nothing is loaded."
                    if spec.on_error == "fail"
                    else f"kept in {spec.quarantine_name}; the good rows load."
                )
            ),
        ]
        return "\n".join(lines) + '\n"""\n'

    def imports(self) -> str:
        """The imports: the loader's, and Polars."""
        return "import importlib.util\nimport sys\nfrom pathlib import Path\n\nimport polars as pl\n"

    def loader(self) -> str:
        """`load_runtime`: the runtime file, found in the dbt project, loaded by path."""
        dirs = "[" + ", ".join(py_literal(folder) for folder in RUNTIME_DIRS) + "]"
        text = LOADER.format(module=RUNTIME_MODULE, dirs=dirs, version=RUNTIME_VERSION)
        names = sorted({"join_reasons", *self.helpers})
        aliases = "".join(f"{name} = rt.{name}\n" for name in names)
        return text + "\n" + comment("The runtime's helpers this spec's casts and checks use.") + "\n" + aliases

    def constants(self) -> str:
        """The spec as data: the expected fields and the output schema."""
        spec = self.spec
        text = ""
        if self.uses_iso:
            text += comment("ISO 8601 timestamps; naive ones are read in the column's time_zone.") + "\n"
            text += wrapped(f"ISO_8601 = {py_list(ISO_8601)}", "") + "\n"
        text += comment(
            "The input fields the spec expects, by path, typed as read; each file is checked "
            "against them (drift) and conformed to them."
        )
        text += "\nEXPECTED_FIELDS = {\n"
        for path, dtype in spec.input.fields:
            text += wrapped(f"{py_literal(path)}: {dtype.polars()},  # {dtype.name}", "    ")
        text += "}\n\n"
        text += comment("The output in order, as the model YAML declares it (DuckDB types in comments).")
        text += "\nOUTPUT_SCHEMA = {\n"
        for name, dtype, _ in spec.output_columns:
            text += wrapped(f"{py_literal(name)}: {dtype.polars()},  # {dtype.name}", "    ")
        text += "}\n"
        return text

    def cast_fields(self) -> str:
        """`cast_fields`: each `from` column cast, with a reason for each value that did not cast."""
        text = "def cast_fields(rows: pl.LazyFrame) -> pl.LazyFrame:\n"
        text += '    """Each column with `from`: its input field, cast; bad values become reasons."""\n'
        text += "    casts = {\n"
        for name, source in self.casts:
            text += wrapped(f"{py_literal(name)}: {source},", "        ")
        text += "    }\n"
        if not self.failures:
            return text + "    return rt.cast_with_reasons(rows, casts, [])\n"
        text += "    # (column, input field, type): a value that was there but did not cast\n"
        text += "    failures = [\n"
        for name, field, type_name in self.failures:
            text += wrapped(f"({py_literal(name)}, {py_literal(field)}, {py_literal(type_name)}),", "        ")
        text += "    ]\n"
        return text + "    return rt.cast_with_reasons(rows, casts, failures)\n"

    def derive(self) -> str:
        """`derive`: the spec's expression columns, in order (empty when there are none)."""
        derived = [column for column in self.spec.columns if column.expr is not None]
        if not derived:
            return ""
        text = "def derive(rows: pl.LazyFrame) -> pl.LazyFrame:\n"
        text += '    """Columns computed by the spec\'s expressions, in order; each sees those before."""\n'
        text += "    return (\n        rows\n"
        for column in derived:
            assert column.expr is not None
            source = column.expr.expr
            if column.expr.dtype is None or column.expr.dtype.name != column.type.name:
                source = f"{parenthesised(source)}.cast({column.type.polars()})"
            text += comment(f"{column.name}: {column.expr_text}", "        ") + "\n"
            text += wrapped(f".with_columns({column.name}={source})", "        ")
        text += "    )\n"
        return text

    def check_rows(self) -> str:
        """`check_rows`: null keys and forbidden nulls as reasons."""
        spec = self.spec
        reasons = ['pl.col("_error")']
        for name in spec.key:
            message = py_literal(f"{name} (key) is null")
            reasons.append(f"pl.when(pl.col({py_literal(name)}).is_null()).then(pl.lit({message}))")
        for column in spec.columns:
            if column.not_null and column.name not in spec.key:
                reasons.append(
                    f"pl.when(pl.col({py_literal(column.name)}).is_null()).then("
                    f"pl.lit({py_literal(column.name + ' is null (not_null in the spec)')}))"
                )
        text = "def check_rows(rows: pl.LazyFrame) -> pl.LazyFrame:\n"
        text += '    """The rows\' remaining reasons to be rejected: null keys, nulls the spec forbids."""\n'
        text += "    reasons = [\n"
        for reason in reasons:
            text += wrapped(reason + ",", "        ")
        text += "    ]\n"
        text += "    return rows.with_columns(_error=join_reasons(*reasons))\n"
        return text

    def filter_rows(self) -> str:
        """`filter_rows`: the spec's filters (empty when there are none)."""
        if not self.spec.filters:
            return ""
        text = "def filter_rows(rows: pl.DataFrame) -> pl.DataFrame:\n"
        text += '    """Rows the spec keeps, after dedupe; a null condition drops the row."""\n'
        text += "    return rows.filter(\n"
        for compiled, source in zip(self.spec.filters, self.spec.filter_texts, strict=True):
            text += comment(source, "        ") + "\n"
            text += wrapped(compiled.expr + ",", "        ")
        text += "    )\n"
        return text

    def attach_lookup(self) -> str:
        """`lookup_candidates` and `attach_lookup` (empty without a lookup)."""
        lookup = self.spec.lookup
        if lookup is None:
            return ""
        names = ", ".join(column.name for column in lookup.columns)
        ambiguous = (
            "A key that several rows share matches none of them (on_ambiguous: null)."
            if lookup.on_ambiguous == "null"
            else "A key that several rows share takes the first by the looked-up values (on_ambiguous: first)."
        )
        key_type = self.spec_key_type()
        right_key = lookup.lookup_key.expr
        if key_type is not None:
            right_key = f"{parenthesised(right_key)}.cast({key_type.polars()})"
        text = "def lookup_candidates(lookup: pl.DataFrame) -> pl.DataFrame:\n"
        summary = f"{names} from {lookup.model}, by {lookup.lookup_key_text}, one row per key value."
        text += docstring('"""' + summary, "    ") + "\n\n"
        text += docstring(ambiguous, "    ") + '\n    """\n'
        text += "    candidates = lookup.select(\n"
        text += wrapped(f"_lookup_key={right_key},", "        ")
        for column in lookup.columns:
            text += wrapped(
                f"{column.name}=pl.col({py_literal(column.source)}).cast({column.type.polars()}),",
                "        ",
            )
        text += "    )\n"
        text += '    candidates = candidates.filter(pl.col("_lookup_key").is_not_null()).unique()\n'
        if lookup.on_ambiguous == "null":
            text += '    return candidates.filter(pl.len().over("_lookup_key") == 1)\n'
        else:
            order = ["_lookup_key", *[column.name for column in lookup.columns]]
            text += wrapped(
                f"return candidates.sort({py_list(order)}, nulls_last=True).unique("
                'subset=["_lookup_key"], keep="first", maintain_order=True)',
                "    ",
            )
        text += "\n\n"
        text += "def attach_lookup(rows: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:\n"
        text += one_docstring(
            f"{names} of the candidate where {lookup.key_text} = {lookup.lookup_key_text}; row order kept.",
            "    ",
        )
        text += wrapped(f"keyed = rows.with_columns(_lookup_key={lookup.key.expr})", "    ")
        text += (
            '    joined = keyed.join(candidates, on="_lookup_key", how="left", '
            'maintain_order="left")\n'
            '    return joined.drop("_lookup_key")\n'
        )
        return text

    def spec_key_type(self) -> DataType | None:
        """The type of the lookup's key on the model's side."""
        lookup = self.spec.lookup
        assert lookup is not None
        return lookup.key.dtype

    def expression_helper_blocks(self) -> str:
        """The expression helpers the spec's expressions call (`email_domain`, ...)."""
        return "\n\n\n".join(HELPERS[helper].strip("\n") for helper in sorted(self.expression_helpers))

    def spec_value(self) -> str:
        """`SPEC`: what the runtime is told about this spec."""
        spec = self.spec
        fields = [
            ("name", py_literal(spec.model_file)),
            ("input", py_literal(spec.input.path)),
            ("format", py_literal(spec.input.format)),
            ("key", py_list(spec.key)),
            ("expected_fields", "EXPECTED_FIELDS"),
            ("drift", self.drift()),
            ("output_schema", "OUTPUT_SCHEMA"),
            ("columns", py_list([column.name for column in spec.columns])),
            ("cast_fields", "cast_fields"),
            ("check_rows", "check_rows"),
            ("quarantine", py_literal(spec.quarantine_name)),
        ]
        if self.checked:
            fields.append(("checked", "True"))
        if any(column.expr is not None for column in spec.columns):
            fields.append(("derive", "derive"))
        if spec.filters:
            fields.append(("filter_rows", "filter_rows"))
        if spec.lookup:
            fields += [("lookup_candidates", "lookup_candidates"), ("attach_lookup", "attach_lookup")]
        if spec.dedupe:
            dedupe = f'{{"keep": {py_literal(spec.dedupe.keep)}, "by": {py_literal(spec.dedupe.by)}}}'
            fields.append(("dedupe", dedupe))
        if spec.input.field_names == "snake_case":
            fields.append(("snake_case", "True"))
        if spec.input.format == "json" and spec.input.record_path:
            fields.append(("record_path", py_list(spec.input.record_path.split("."))))
        if spec.input.format == "csv":
            fields.append(("csv", self.csv_settings()))
        text = "SPEC = rt.Spec(\n"
        for name, value in fields:
            text += wrapped(f"{name}={value},", "    ")
        return text + ")\n"

    def drift(self) -> str:
        """The spec's drift settings as a dict literal."""
        drift = self.spec.input.drift
        return (
            f'{{"missing": {py_literal(drift.missing)}, "new": {py_literal(drift.new)}, '
            f'"retyped": {py_literal(drift.retyped)}}}'
        )

    def csv_settings(self) -> str:
        """A CSV input's dialect as a dict literal."""
        spec = self.spec
        encoding = spec.input.encoding
        if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
            encoding = "utf-8-sig"  # a byte order mark is common in spreadsheet exports
        return (
            f'{{"encoding": {py_literal(encoding)}, "delimiter": {py_literal(spec.input.delimiter)}, '
            f'"quote": {py_literal(spec.input.quote)}, "header": {spec.input.header!r}}}'
        )

    def model(self) -> str:
        """`model(dbt, session)`: dbt-duckdb's entry point."""
        lookup = self.spec.lookup
        text = "def model(dbt, session):\n"
        text += '    """dbt-duckdb entry point: an Arrow stream, which dbt writes as the table while it is read."""\n'
        # Here, not in the runtime: dbt hands a Python model only the config keys it reads.
        text += '    raw_dir = rt.raw_dir_from(dbt.config.meta_get("gen_model_raw_path"))\n'
        if lookup:
            args = [py_literal(lookup.model)]
            if lookup.version is not None:
                args.append(f"v={lookup.version}")
            text += wrapped(f"lookup = dbt.ref({', '.join(args)}).pl()", "    ")
            text += "    return rt.stream(SPEC, raw_dir, lookup)\n"
        else:
            text += "    return rt.stream(SPEC, raw_dir)\n"
        return text

    # -- assembly ----------------------------------------------------------------------

    def render(self) -> str:
        """The Python model, sections in order: `<name>`, or `<name>__checked` when the
        spec quarantines."""
        sections = [
            self.header(),
            self.imports(),
            self.loader(),
            self.constants(),
            self.cast_fields(),
            self.derive(),
            self.check_rows(),
            self.filter_rows(),
            self.attach_lookup(),
            self.expression_helper_blocks(),
            self.spec_value(),
            self.model(),
        ]
        head, imports, *rest = [section.strip("\n") for section in sections if section.strip()]
        return head + "\n\n" + imports + "\n\n" + "\n\n\n".join(rest) + "\n"

    def render_sql(self, quarantine: bool = False) -> str:
        """`<name>` (its good rows) or `<name>__quarantine` (its bad rows) as a select from
        `<name>__checked`, which read the input once for both."""
        spec = self.spec
        if quarantine:
            title = (
                f"{spec.quarantine_name}: the rows of {spec.model_file}'s input that did not "
                "load, with the file, the row, the record and the reason."
            )
            columns = [f"{sql_identifier(status)} as {sql_identifier(name)}" for status, name in STATUS_COLUMNS]
            condition = "is not null"
        else:
            title = f"{spec.model_file}: {spec.description}"
            columns = [sql_identifier(name) for name, _, _ in spec.output_columns]
            condition = "is null"
        text = _sql_comment(title) + "--\n" + _sql_comment(self.provenance())
        text += _sql_comment(f"The input is read and checked once, by {spec.checked_name}.")
        text += "select\n" + ",\n".join(f"    {column}" for column in columns) + "\n"
        text += f"from {checked_ref(spec)}\nwhere _error {condition}\n"
        return text


def _sql_comment(text: str) -> str:
    """Prose as `--` comment lines."""
    return "".join("-- " + line[2:] + "\n" for line in comment(text).splitlines())

"""DuckDB type names, the way specs, contracts and the catalog write them, and Polars dtypes.

Specs and model YAML use DuckDB's lowercase names ('varchar', 'decimal(18,6)',
'timestamp with time zone', 'varchar[]', 'struct(city varchar, country varchar)'), because
that is what the warehouse reports and what dbt contracts compare. The compiler turns each
into the Polars dtype whose DuckDB mapping is exactly that name (checked by a real build).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Aliases a person may write, by the canonical name we emit.
_SPELLINGS = {
    "varchar": ("text", "string", "str", "char", "bpchar"),
    "integer": ("int", "int4", "signed"),
    "bigint": ("int8", "long"),
    "smallint": ("int2", "short"),
    "tinyint": ("int1",),
    "double": ("float8", "double precision"),
    "float": ("float4", "real"),
    "boolean": ("bool", "logical"),
    "timestamp with time zone": ("timestamptz",),
    "timestamp": ("datetime",),
    "decimal": ("numeric",),
}
ALIASES = {alias: name for name, aliases in _SPELLINGS.items() for alias in aliases}

# kind -> {name: Polars dtype source}, in the order `did_you_mean` offers the names.
_BY_KIND: dict[str, dict[str, str]] = {
    "text": {"varchar": "pl.String"},
    "integer": {
        "bigint": "pl.Int64",
        "integer": "pl.Int32",
        "smallint": "pl.Int16",
        "tinyint": "pl.Int8",
        "ubigint": "pl.UInt64",
        "uinteger": "pl.UInt32",
        "usmallint": "pl.UInt16",
        "utinyint": "pl.UInt8",
        "hugeint": "pl.Int128",
    },
    "float": {"double": "pl.Float64", "float": "pl.Float32"},
    "boolean": {"boolean": "pl.Boolean"},
    "date": {"date": "pl.Date"},
    "time": {"time": "pl.Time"},
    "timestamp": {
        "timestamp": 'pl.Datetime("us")',
        "timestamp_ms": 'pl.Datetime("ms")',
        "timestamp_ns": 'pl.Datetime("ns")',
    },
    "timestamptz": {"timestamp with time zone": 'pl.Datetime("us", "UTC")'},
    "interval": {"interval": 'pl.Duration("us")'},
    "binary": {"blob": "pl.Binary"},
    "null": {"null": "pl.Null"},
}
# name -> (kind, Polars dtype source)
SCALARS = {name: (kind, polars) for kind, names in _BY_KIND.items() for name, polars in names.items()}

NUMERIC_KINDS = ("integer", "float", "decimal")
TEMPORAL_KINDS = ("date", "timestamp", "timestamptz")


class TypeSyntaxError(ValueError):
    """A type name that is not one we know, with what we expected."""


@dataclass(frozen=True)
class DataType:
    """A parsed DuckDB type."""

    name: str  # canonical DuckDB spelling, lowercase
    kind: str  # text|integer|float|decimal|boolean|date|time|timestamp|timestamptz|list|struct|...
    precision: int | None = None
    scale: int | None = None
    element: DataType | None = None  # list element
    fields: tuple[tuple[str, DataType], ...] = ()  # struct fields

    @property
    def is_numeric(self) -> bool:
        """True for integer, float and decimal types."""
        return self.kind in NUMERIC_KINDS

    @property
    def is_temporal(self) -> bool:
        """True for dates and timestamps (with or without time zone)."""
        return self.kind in TEMPORAL_KINDS

    def polars(self) -> str:
        """Python source of the Polars dtype that DuckDB stores as this type."""
        if self.kind == "decimal":
            return f"pl.Decimal({self.precision}, {self.scale})"
        if self.kind == "list":
            assert self.element is not None
            return f"pl.List({self.element.polars()})"
        if self.kind == "struct":
            inner = ", ".join(f"{name!r}: {dtype.polars()}" for name, dtype in self.fields)
            return "pl.Struct({" + inner.replace("'", '"') + "})"
        return SCALARS[self.name][1]


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses or quotes."""
    parts, depth, current, quoted = [], 0, [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def parse_type(text: str) -> DataType:
    """Parse a DuckDB type name; raise TypeSyntaxError naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise TypeSyntaxError("a type must be a non-empty string such as 'varchar'")
    raw = " ".join(text.strip().split())
    lowered = raw.lower()
    if lowered.endswith("[]"):
        element = parse_type(raw[:-2])
        return DataType(name=f"{element.name}[]", kind="list", element=element)
    match = re.fullmatch(r"(decimal|numeric)\s*(?:\(\s*(\d+)\s*,\s*(\d+)\s*\))?", lowered)
    if match:
        if match.group(2) is None:
            raise TypeSyntaxError(f"{raw!r} needs an explicit precision and scale, e.g. 'decimal(18,2)'")
        precision, scale = int(match.group(2)), int(match.group(3))
        if not 1 <= precision <= 38 or scale > precision:
            raise TypeSyntaxError(f"{raw!r}: precision must be 1..38 and scale at most the precision")
        return DataType(name=f"decimal({precision},{scale})", kind="decimal", precision=precision, scale=scale)
    if lowered.startswith("struct(") and lowered.endswith(")"):
        fields = []
        for part in _split_top(raw[len("struct(") : -1]):
            match = re.fullmatch(r'("(?:[^"]|"")+"|[^\s"]+)\s+(.+)', part)
            if not match:
                raise TypeSyntaxError(f"struct field {part!r} must be 'name type'")
            name = match.group(1)
            if name.startswith('"'):
                name = name[1:-1].replace('""', '"')
            fields.append((name, parse_type(match.group(2))))
        if not fields:
            raise TypeSyntaxError("a struct needs at least one field")
        inner = ", ".join(f"{_quote_field(name)} {dtype.name}" for name, dtype in fields)
        return DataType(name=f"struct({inner})", kind="struct", fields=tuple(fields))
    canonical = ALIASES.get(lowered, lowered)
    if canonical in SCALARS:
        return DataType(name=canonical, kind=SCALARS[canonical][0])
    from generator.suggest import did_you_mean

    hint = did_you_mean(lowered, [*SCALARS, *ALIASES, "decimal(18,2)"])
    raise TypeSyntaxError(f"unknown type {raw!r}." + (f" {hint}" if hint else ""))


def _quote_field(name: str) -> str:
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def from_polars(dtype) -> str:
    """DuckDB's name for a Polars dtype (what DuckDB creates when it stores the column)."""
    import polars as pl

    if dtype == pl.Null:
        return "null"
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            return "timestamp with time zone"
        return {"ms": "timestamp_ms", "ns": "timestamp_ns"}.get(dtype.time_unit, "timestamp")
    if isinstance(dtype, pl.Decimal):
        return f"decimal({dtype.precision or 38},{dtype.scale or 0})"
    if isinstance(dtype, pl.List):
        return f"{from_polars(dtype.inner)}[]"
    if isinstance(dtype, pl.Array):
        return f"{from_polars(dtype.inner)}[{dtype.size}]"
    if isinstance(dtype, pl.Struct):
        inner = ", ".join(f"{_quote_field(f.name)} {from_polars(f.dtype)}" for f in dtype.fields)
        return f"struct({inner})"
    if isinstance(dtype, pl.Duration):
        return "interval"
    simple = {
        pl.String: "varchar",
        pl.Categorical: "varchar",
        pl.Enum: "varchar",
        pl.Int64: "bigint",
        pl.Int32: "integer",
        pl.Int16: "smallint",
        pl.Int8: "tinyint",
        pl.UInt64: "ubigint",
        pl.UInt32: "uinteger",
        pl.UInt16: "usmallint",
        pl.UInt8: "utinyint",
        pl.Int128: "hugeint",
        pl.Float64: "double",
        pl.Float32: "float",
        pl.Boolean: "boolean",
        pl.Date: "date",
        pl.Time: "time",
        pl.Binary: "blob",
    }
    for polars_type, name in simple.items():
        if dtype == polars_type:
            return name
    return str(dtype).lower()


def flatten_polars_schema(schema, prefix: str = "") -> list[tuple[str, object]]:
    """Leaf fields of a (nested) Polars schema as dotted paths; lists stay whole."""
    import polars as pl

    leaves: list[tuple[str, object]] = []
    for name, dtype in schema.items():
        path = f"{prefix}{name}"
        if isinstance(dtype, pl.Struct) and dtype.fields:
            leaves.extend(flatten_polars_schema({f.name: f.dtype for f in dtype.fields}, path + "."))
        else:
            leaves.append((path, dtype))
    return leaves

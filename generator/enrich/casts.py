"""Casts: the Polars source that turns a column's input field into its spec type."""

from __future__ import annotations

from generator.enrich.expressions import py_literal
from generator.enrich.formatting import py_list
from generator.enrich.spec import ISO_DATE_FORMATS, ISO_NAIVE_FORMATS, ISO_TIMESTAMP_FORMATS, ColumnSpec
from generator.enrich.types import DataType

ISO_8601 = list(ISO_TIMESTAMP_FORMATS + ISO_NAIVE_FORMATS)


def _formats(column: ColumnSpec, target: DataType) -> list[str]:
    formats: list[str] = []
    for fmt in column.formats:
        if fmt != "iso8601":
            formats.append(fmt)
        elif target.kind == "date":
            formats.extend(ISO_DATE_FORMATS)
        elif target.kind == "time":
            formats.append("%H:%M:%S%.f")
        else:
            formats.extend(ISO_TIMESTAMP_FORMATS + ISO_NAIVE_FORMATS)
    return list(dict.fromkeys(formats))


def cast_source(column: ColumnSpec) -> tuple[str, bool, set[str]]:
    """Polars source turning the column's input field into its cast type.

    Returns (source, can_fail, helper blocks needed). `can_fail`: a non-null input value
    can come out null, which the model reports as a bad row.
    """
    assert column.source is not None and column.source_type is not None
    assert column.cast_to is not None
    source, target = column.source_type, column.cast_to
    value = f"pl.col({py_literal(column.source)})"
    if source.name == target.name:
        return value, False, set()
    if source.kind == "null":
        return f"pl.lit(None, {target.polars()})", False, set()
    if source.kind == "text":
        if target.kind in ("integer", "float", "decimal"):
            return f"parse_number({value}, {target.polars()})", True, {"parse_number"}
        if target.kind == "boolean":
            call = f"parse_boolean({value}, {py_list(column.true_values)}, {py_list(column.false_values)})"
            return call, True, {"parse_boolean"}
        formats = _formats(column, target)
        formats = "ISO_8601" if formats == ISO_8601 else py_list(formats)
        if target.kind == "date":
            return f"parse_date({value}, {formats})", True, {"parse_date"}
        if target.kind == "time":
            return f"parse_time({value}, {formats})", True, {"parse_time"}
        parsed = f"parse_timestamp({value}, {formats}, {py_literal(column.time_zone)})"
        if target.kind == "timestamp":
            parsed += ".dt.replace_time_zone(None)"
        if target.kind in ("timestamp", "timestamptz"):
            return parsed, True, {"parse_timestamp"}
        return f"{value}.cast({target.polars()}, strict=False)", True, set()
    if target.kind == "text":
        return f"{value}.cast(pl.String)", False, set()
    if source.kind == "timestamp" and target.kind == "timestamptz":
        return (
            f'{value}.dt.cast_time_unit("us").dt.replace_time_zone('
            f'{py_literal(column.time_zone)}, ambiguous="null", non_existent="null")'
            '.dt.convert_time_zone("UTC")',
            True,
            set(),
        )
    if source.kind == "timestamptz" and target.kind == "timestamp":
        return f'{value}.dt.convert_time_zone("UTC").dt.replace_time_zone(None)', False, set()
    if source.kind in ("timestamp", "timestamptz") and target.kind == "date":
        return f"{value}.dt.date()", False, set()
    widening = (source.kind == "integer" and target.kind == "float") or (
        source.kind in ("date", "timestamp") and target.kind == "timestamp"
    )
    return f"{value}.cast({target.polars()}, strict=False)", not widening, set()

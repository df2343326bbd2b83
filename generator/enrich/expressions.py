"""The closed expression vocabulary of enrichment specs: parsed, type-checked, compiled.

An expression is written like a SQL-ish function call, `nullif(lower(trim(email)), '')`,
`not is_archived`, `units_per_usd > 0 and currency_code in ['EUR', 'GBP']`. It is parsed
with Python's own parser (`ast.parse(mode="eval")`, which only builds a tree and never runs
anything), then every node is checked against a whitelist: names are columns, calls are
functions from VOCABULARY, constants are strings, numbers, booleans or null. Anything else
is an error that says where. The checked tree is compiled to Polars expression source.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field

from generator.enrich.types import DataType, parse_type
from generator.suggest import did_you_mean

TEXT = ("text",)
NUMBER = ("integer", "float", "decimal")
TEMPORAL = ("date", "timestamp", "timestamptz")
ANY = ("*",)

DATE_TRUNC_UNITS = {
    "day": "1d",
    "week": "1w",
    "month": "1mo",
    "quarter": "1q",
    "year": "1y",
    "hour": "1h",
    "minute": "1m",
}

# name -> (signature shown in errors, summary). The compiler below implements each one.
VOCABULARY: dict[str, tuple[str, str]] = {
    "lower": ("lower(text)", "lowercase"),
    "upper": ("upper(text)", "uppercase"),
    "trim": ("trim(text)", "strip surrounding whitespace"),
    "length": ("length(text)", "number of characters (bigint)"),
    "replace": ("replace(text, 'old', 'new')", "replace every literal occurrence"),
    "split_part": ("split_part(text, 'separator', n)", "n-th part, 1-based, null if absent"),
    "concat": ("concat(text, ...)", "concatenate; null if any part is null"),
    "coalesce": ("coalesce(value, ...)", "first non-null value"),
    "nullif": ("nullif(value, other)", "null where value equals other"),
    "if_else": ("if_else(condition, then, else)", "then where condition is true, else else"),
    "is_null": ("is_null(value)", "true where value is null"),
    "is_not_null": ("is_not_null(value)", "true where value is not null"),
    "email_domain": (
        "email_domain(text)",
        "the part after the last '@', trimmed and lowercased; null if there is none",
    ),
    "domain": (
        "domain(text)",
        "a web domain normalised: lowercased, no scheme, no 'www.', no path or port",
    ),
    "round": ("round(number, digits)", "round half away from zero"),
    "abs": ("abs(number)", "absolute value"),
    "date": ("date(timestamp)", "the date part (UTC for timestamps with time zone)"),
    "date_trunc": ("date_trunc('unit', temporal)", "truncate to day|week|month|quarter|year"),
    "year": ("year(temporal)", "the year (integer)"),
    "month": ("month(temporal)", "the month 1..12 (integer)"),
}

# Helper functions the generated model defines when an expression uses them.
HELPERS: dict[str, str] = {
    "email_domain": '''def email_domain(email: pl.Expr) -> pl.Expr:
    """The part of an email address after its last '@', trimmed and lowercased."""
    return email.str.extract(r"@([^@]+)$", 1).str.strip_chars().str.to_lowercase()
''',
    "normalise_domain": '''def normalise_domain(domain: pl.Expr) -> pl.Expr:
    """A web domain as accounts and emails share it: no scheme, 'www.', path or port."""
    cleaned = (
        domain.str.strip_chars()
        .str.to_lowercase()
        .str.replace(r"^[a-z][a-z0-9+.-]*://", "")
        .str.replace(r"^www\\.", "")
        .str.replace(r"[/?#:].*$", "")
        .str.strip_chars_end(".")
    )
    return pl.when(cleaned != "").then(cleaned)
''',
}


class ExpressionError(ValueError):
    """An expression outside the vocabulary, with the character offset it refers to."""

    def __init__(
        self,
        message: str,
        offset: int | None = None,
        identifier: str | None = None,
        suggestion: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.identifier = identifier
        self.suggestion = suggestion


@dataclass(frozen=True)
class Compiled:
    """A checked expression: Polars source, its result type, and what it needs."""

    source: str
    kind: str  # a DataType kind, 'null' for the null literal, '*' when unknown
    dtype: DataType | None = None  # the Polars result type, when known exactly
    literal: bool = False  # `source` is a Python literal, not a Polars expression
    columns: tuple[str, ...] = ()
    helpers: frozenset[str] = field(default_factory=frozenset)

    @property
    def expr(self) -> str:
        """Source that is always a Polars expression."""
        return f"pl.lit({self.source})" if self.literal else self.source


def py_literal(value) -> str:
    """A Python literal in the style ruff format writes (double-quoted strings)."""
    if isinstance(value, str):
        if '"' in value and "'" not in value:
            return repr(value)  # what ruff format prefers: no escaped quotes
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "None"
    return repr(value)


_KIND_NAMES = {
    "text": "text",
    "integer": "an integer",
    "float": "a double",
    "decimal": "a decimal",
    "boolean": "a boolean",
    "date": "a date",
    "timestamp": "a timestamp",
    "timestamptz": "a timestamp with time zone",
    "list": "a list",
    "null": "null",
}

_DEFAULT_TYPES = {
    "text": "varchar",
    "integer": "bigint",
    "float": "double",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp with time zone",
}


def default_type(compiled: Compiled) -> DataType | None:
    """The type a column gets from its expression when the spec names none."""
    if compiled.dtype is not None:
        return compiled.dtype
    name = _DEFAULT_TYPES.get(compiled.kind)
    return parse_type(name) if name else None


def _atom(compiled: Compiled) -> str:
    """Source safe to use as an operand (parenthesised unless it is a simple term)."""
    source = compiled.expr
    depth = 0
    for char in source:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and char in " ~-":
            return f"({source})"
    return source


class _Compiler:
    def __init__(self, text: str, columns: dict[str, DataType | None]):
        self.text = text
        self.columns = columns
        self.used: list[str] = []
        self.helpers: set[str] = set()
        # ast offsets are in UTF-8 bytes of the line; map them back to characters
        self._encoded = text.encode("utf-8")

    def offset(self, node: ast.AST) -> int | None:
        col = getattr(node, "col_offset", None)
        if col is None:
            return None
        return len(self._encoded[:col].decode("utf-8", errors="ignore"))

    def fail(self, node: ast.AST, message: str, **kwargs) -> ExpressionError:
        return ExpressionError(message, self.offset(node), **kwargs)

    def snippet(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ""

    # -- nodes ---------------------------------------------------------------------------

    def visit(self, node: ast.AST) -> Compiled:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BoolOp):
            return self.bool_op(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.bin_op(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Attribute):
            raise self.fail(
                node,
                f"{self.snippet(node)!r}: expressions refer to this model's columns by name",
                suggestion="Add a column with `from: " + self.snippet(node) + "` and use its name.",
            )
        if isinstance(node, (ast.List, ast.Tuple)):
            raise self.fail(node, "a list is only allowed after `in` / `not in`")
        raise self.fail(
            node,
            f"{self.snippet(node)!r} is not part of the expression vocabulary",
            suggestion="Allowed: column names, literals, + - * /, comparisons, and/or/not, "
            "in [...], and the functions " + ", ".join(sorted(VOCABULARY)) + ".",
        )

    def constant(self, node: ast.Constant) -> Compiled:
        value = node.value
        if isinstance(value, bool):
            return Compiled(py_literal(value), "boolean", parse_type("boolean"), literal=True)
        if value is None:
            return Compiled("None", "null", literal=True)
        if isinstance(value, int):
            return Compiled(py_literal(value), "integer", parse_type("bigint"), literal=True)
        if isinstance(value, float):
            return Compiled(py_literal(value), "float", parse_type("double"), literal=True)
        if isinstance(value, str):
            return Compiled(py_literal(value), "text", parse_type("varchar"), literal=True)
        raise self.fail(node, f"literal {self.snippet(node)!r} is not a string, number or boolean")

    def name(self, node: ast.Name) -> Compiled:
        lowered = node.id.lower()
        if lowered in ("true", "false"):
            return Compiled(str(lowered == "true"), "boolean", parse_type("boolean"), literal=True)
        if lowered in ("null", "none"):
            return Compiled("None", "null", literal=True)
        if node.id not in self.columns:
            raise self.fail(
                node,
                f"unknown column {node.id!r}",
                identifier=node.id,
                suggestion=did_you_mean(node.id, self.columns)
                or ("Known columns: " + ", ".join(self.columns) + "." if self.columns else None),
            )
        dtype = self.columns[node.id]
        self.used.append(node.id)
        kind = dtype.kind if dtype is not None else "*"
        return Compiled(f"pl.col({py_literal(node.id)})", kind, dtype)

    def expect(self, node: ast.AST, compiled: Compiled, kinds: tuple[str, ...], what: str) -> None:
        if compiled.kind in ("*", "null") or kinds == ANY or compiled.kind in kinds:
            return
        wanted = " or ".join(_KIND_NAMES.get(kind, kind) for kind in kinds)
        got = compiled.dtype.name if compiled.dtype else _KIND_NAMES.get(compiled.kind)
        raise self.fail(node, f"{what} expects {wanted}, but {self.snippet(node)!r} is {got}")

    def literal_arg(self, call: ast.Call, index: int, python_type: type, what: str):
        node = call.args[index]
        if not isinstance(node, ast.Constant) or not isinstance(node.value, python_type):
            raise self.fail(node, f"{what} must be a literal {python_type.__name__}")
        if isinstance(node.value, bool) and python_type is int:
            raise self.fail(node, f"{what} must be a literal int")
        return node.value

    def call(self, node: ast.Call) -> Compiled:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, f"{self.snippet(node.func)!r} is not a function name")
        name = node.func.id
        if name not in VOCABULARY:
            raise self.fail(
                node,
                f"unknown function {name!r}",
                identifier=name,
                suggestion=did_you_mean(name, VOCABULARY) or "Functions: " + ", ".join(sorted(VOCABULARY)) + ".",
            )
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments")
        signature = VOCABULARY[name][0]
        arity = {
            "concat": (1, 99),
            "coalesce": (2, 99),
            "nullif": (2, 2),
            "if_else": (3, 3),
            "replace": (3, 3),
            "split_part": (3, 3),
            "round": (1, 2),
            "date_trunc": (2, 2),
        }.get(name, (1, 1))
        if not arity[0] <= len(node.args) <= arity[1]:
            raise self.fail(node, f"{name}() takes {signature}, got {len(node.args)} argument(s)")
        return getattr(self, f"fn_{name}")(node)

    def _first(self, node: ast.Call, kinds: tuple[str, ...]) -> Compiled:
        value = self.visit(node.args[0])
        self.expect(node.args[0], value, kinds, f"{node.func.id}()")  # type: ignore[attr-defined]
        return value

    def _text_method(self, node: ast.Call, method: str) -> Compiled:
        value = self._first(node, TEXT)
        return Compiled(f"{_atom(value)}.{method}", "text", parse_type("varchar"))

    def fn_lower(self, node):
        return self._text_method(node, "str.to_lowercase()")

    def fn_upper(self, node):
        return self._text_method(node, "str.to_uppercase()")

    def fn_trim(self, node):
        return self._text_method(node, "str.strip_chars()")

    def fn_length(self, node):
        value = self._first(node, TEXT)
        return Compiled(f"{_atom(value)}.str.len_chars().cast(pl.Int64)", "integer", parse_type("bigint"))

    def fn_replace(self, node):
        value = self._first(node, TEXT)
        old = self.literal_arg(node, 1, str, "replace()'s second argument")
        new = self.literal_arg(node, 2, str, "replace()'s third argument")
        return Compiled(
            f"{_atom(value)}.str.replace_all({py_literal(old)}, {py_literal(new)}, literal=True)",
            "text",
            parse_type("varchar"),
        )

    def fn_split_part(self, node):
        value = self._first(node, TEXT)
        separator = self.literal_arg(node, 1, str, "split_part()'s separator")
        index = self.literal_arg(node, 2, int, "split_part()'s part number")
        if separator == "":
            raise self.fail(node.args[1], "split_part()'s separator must not be empty")
        if index < 1:
            raise self.fail(node.args[2], "split_part()'s part number counts from 1")
        return Compiled(
            f"{_atom(value)}.str.split({py_literal(separator)}).list.get({index - 1}, null_on_oob=True)",
            "text",
            parse_type("varchar"),
        )

    def fn_concat(self, node):
        parts = []
        for arg in node.args:
            value = self.visit(arg)
            self.expect(arg, value, TEXT, "concat()")
            parts.append(value.expr)
        return Compiled(f"pl.concat_str([{', '.join(parts)}])", "text", parse_type("varchar"))

    def _same_kind(self, node: ast.Call, values: list[Compiled], what: str) -> Compiled | None:
        typed = [value for value in values if value.kind not in ("null", "*")]
        if not typed:
            return None
        first = typed[0]
        for arg, value in zip(node.args, values, strict=True):
            if value.kind in ("null", "*"):
                continue
            same = value.kind == first.kind or (value.kind in NUMBER and first.kind in NUMBER)
            if not same:
                raise self.fail(
                    arg,
                    f"{what}: {self.snippet(arg)!r} is {_KIND_NAMES.get(value.kind)}, "
                    f"but {self.snippet(node.args[values.index(first)])!r} is "
                    f"{_KIND_NAMES.get(first.kind)}",
                )
        return first

    def fn_coalesce(self, node):
        values = [self.visit(arg) for arg in node.args]
        first = self._same_kind(node, values, "coalesce()")
        kinds = {value.dtype for value in values if value.kind != "null"}
        dtype = first.dtype if first is not None and len(kinds) == 1 else None
        return Compiled(
            f"pl.coalesce({', '.join(value.expr for value in values)})",
            first.kind if first else "null",
            dtype,
        )

    def fn_nullif(self, node):
        value, other = self.visit(node.args[0]), self.visit(node.args[1])
        self._same_kind(node, [value, other], "nullif()")
        other_source = other.source if other.literal else other.expr
        return Compiled(
            f"pl.when({_atom(value)} != {other_source}).then({value.expr})",
            value.kind,
            value.dtype,
        )

    def fn_if_else(self, node):
        condition = self.visit(node.args[0])
        self.expect(node.args[0], condition, ("boolean",), "if_else()'s condition")
        then, otherwise = self.visit(node.args[1]), self.visit(node.args[2])
        first = self._same_kind(
            ast.Call(func=node.func, args=node.args[1:], keywords=[]),
            [then, otherwise],
            "if_else()",
        )
        dtype = then.dtype if then.dtype == otherwise.dtype else None
        return Compiled(
            f"pl.when({condition.expr}).then({then.expr}).otherwise({otherwise.expr})",
            first.kind if first else "null",
            dtype,
        )

    def fn_is_null(self, node):
        value = self.visit(node.args[0])
        return Compiled(f"{_atom(value)}.is_null()", "boolean", parse_type("boolean"))

    def fn_is_not_null(self, node):
        value = self.visit(node.args[0])
        return Compiled(f"{_atom(value)}.is_not_null()", "boolean", parse_type("boolean"))

    def fn_email_domain(self, node):
        value = self._first(node, TEXT)
        self.helpers.add("email_domain")
        return Compiled(f"email_domain({value.expr})", "text", parse_type("varchar"))

    def fn_domain(self, node):
        value = self._first(node, TEXT)
        self.helpers.add("normalise_domain")
        return Compiled(f"normalise_domain({value.expr})", "text", parse_type("varchar"))

    def fn_round(self, node):
        value = self._first(node, NUMBER)
        digits = self.literal_arg(node, 1, int, "round()'s digits") if len(node.args) > 1 else 0
        return Compiled(f"{_atom(value)}.round({digits})", value.kind, value.dtype)

    def fn_abs(self, node):
        value = self._first(node, NUMBER)
        return Compiled(f"{_atom(value)}.abs()", value.kind, value.dtype)

    def fn_date(self, node):
        value = self._first(node, TEMPORAL)
        if value.kind == "date":
            return value
        return Compiled(f"{_atom(value)}.dt.date()", "date", parse_type("date"))

    def fn_date_trunc(self, node):
        unit = self.literal_arg(node, 0, str, "date_trunc()'s unit")
        if unit not in DATE_TRUNC_UNITS:
            raise self.fail(
                node.args[0],
                f"unknown date_trunc() unit {unit!r}",
                suggestion=did_you_mean(unit, DATE_TRUNC_UNITS) or "Units: " + ", ".join(DATE_TRUNC_UNITS) + ".",
            )
        value = self.visit(node.args[1])
        self.expect(node.args[1], value, TEMPORAL, "date_trunc()")
        every = DATE_TRUNC_UNITS[unit]
        return Compiled(f"{_atom(value)}.dt.truncate({py_literal(every)})", value.kind, value.dtype)

    def fn_year(self, node):
        value = self._first(node, TEMPORAL)
        return Compiled(f"{_atom(value)}.dt.year()", "integer", parse_type("integer"))

    def fn_month(self, node):
        value = self._first(node, TEMPORAL)
        return Compiled(f"{_atom(value)}.dt.month().cast(pl.Int32)", "integer", parse_type("integer"))

    # -- operators -----------------------------------------------------------------------

    def bool_op(self, node: ast.BoolOp) -> Compiled:
        operator = " & " if isinstance(node.op, ast.And) else " | "
        parts = []
        for value_node in node.values:
            value = self.visit(value_node)
            self.expect(value_node, value, ("boolean",), "and/or")
            parts.append(_atom(value))
        return Compiled(operator.join(parts), "boolean", parse_type("boolean"))

    def unary(self, node: ast.UnaryOp) -> Compiled:
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            self.expect(node.operand, value, ("boolean",), "not")
            return Compiled(f"~{_atom(value)}", "boolean", parse_type("boolean"))
        if isinstance(node.op, ast.USub):
            self.expect(node.operand, value, NUMBER, "unary minus")
            if value.literal:
                return Compiled(f"-{value.source}", value.kind, value.dtype, literal=True)
            return Compiled(f"-{_atom(value)}", value.kind, value.dtype)
        raise self.fail(node, f"operator in {self.snippet(node)!r} is not allowed")

    def bin_op(self, node: ast.BinOp) -> Compiled:
        symbols = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
        symbol = symbols.get(type(node.op))
        if symbol is None:
            raise self.fail(node, f"operator in {self.snippet(node)!r} is not allowed (+ - * /)")
        left, right = self.visit(node.left), self.visit(node.right)
        for side_node, side in ((node.left, left), (node.right, right)):
            if side.kind == "text" and symbol == "+":
                raise self.fail(side_node, "use concat(a, b) to join text")
            self.expect(side_node, side, NUMBER, f"'{symbol}'")
        kinds = {left.kind, right.kind}
        if symbol == "/" or "float" in kinds:
            kind, dtype = "float", parse_type("double")
        elif kinds <= {"integer", "null"}:
            kind, dtype = "integer", parse_type("bigint")
        else:
            kind, dtype = "decimal", None
        left_source = _atom(left) if not (left.literal and right.literal) else f"pl.lit({left.source})"
        right_source = right.source if right.literal else _atom(right)
        return Compiled(f"{left_source} {symbol} {right_source}", kind, dtype)

    def compare(self, node: ast.Compare) -> Compiled:
        if len(node.ops) != 1:
            raise self.fail(node, "chained comparisons are not allowed; write a < b and b < c")
        op, right_node = node.ops[0], node.comparators[0]
        left = self.visit(node.left)
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right_node, (ast.List, ast.Tuple)) or not right_node.elts:
                raise self.fail(right_node, "`in` needs a non-empty list of literals: x in ['a', 'b']")
            values = []
            for element in right_node.elts:
                if not isinstance(element, ast.Constant) or element.value is None:
                    raise self.fail(element, "`in` lists hold literal strings, numbers or booleans")
                literal = self.constant(element)
                self._same_kind(
                    ast.Call(func=ast.Name(id="in"), args=[node.left, element], keywords=[]),
                    [left, literal],
                    "in",
                )
                values.append(literal.source)
            source = f"{_atom(left)}.is_in([{', '.join(values)}])"
            if isinstance(op, ast.NotIn):
                source = f"~{source}"
            return Compiled(source, "boolean", parse_type("boolean"))
        symbols = {
            ast.Eq: "==",
            ast.NotEq: "!=",
            ast.Lt: "<",
            ast.LtE: "<=",
            ast.Gt: ">",
            ast.GtE: ">=",
        }
        symbol = symbols.get(type(op))
        if symbol is None:
            raise self.fail(node, f"{self.snippet(node)!r}: use is_null(x) / is_not_null(x)")
        right = self.visit(right_node)
        if "null" in (left.kind, right.kind):
            raise self.fail(node, "comparing with null is never true; use is_null(x)")
        self._same_kind(
            ast.Call(func=ast.Name(id=symbol), args=[node.left, right_node], keywords=[]),
            [left, right],
            f"'{symbol}'",
        )
        if left.kind in TEMPORAL and (left.literal or right.literal):
            raise self.fail(node, "compare dates and timestamps with columns, not literals")
        left_source = _atom(left) if not left.literal else f"pl.lit({left.source})"
        right_source = right.source if right.literal else _atom(right)
        return Compiled(f"{left_source} {symbol} {right_source}", "boolean", parse_type("boolean"))


def compile_expression(text: str, columns: dict[str, DataType | None]) -> Compiled:
    """Check `text` against the vocabulary and compile it to Polars expression source.

    `columns` maps the names the expression may use to their types (None: unknown).
    Raises ExpressionError with the character offset of the problem.
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression must be a non-empty string")
    stripped = text.strip()
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as error:
        offset = (error.offset - 1) if error.offset else None
        raise ExpressionError(f"not a valid expression: {error.msg}", offset) from None
    compiler = _Compiler(stripped, columns)
    result = compiler.visit(tree.body)
    return Compiled(
        source=result.source,
        kind=result.kind,
        dtype=result.dtype,
        literal=result.literal,
        columns=tuple(dict.fromkeys(compiler.used)),
        helpers=frozenset(compiler.helpers),
    )

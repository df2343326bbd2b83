"""Generated files are inert: the only Jinja dbt finds in them is the Jinja gen-model meant.

dbt renders Jinja long after gen-model's gates ran, outside any sandbox: the model's `.sql`
file, and every string value of its YAML (descriptions, meta, test arguments and configs,
unit-test rows). A generic test's argument that looks like `env_var(...)`, `var(...)`,
`ref(...)`, `source(...)` or `doc(...)` is even rendered without any braces (dbt-core's
`add_rendered_test_kwargs`). The proposal, the request and warehouse values are untrusted,
so whatever of them would render is escaped here, and the final bytes of every file are
checked with dbt's own Jinja lexer and parser (never a regular expression) before anything
is written, and again by `gen-model verify`.

What is allowed:
  * in a `.sql` model: `{{ ref(...) }}`, `{{ source(...) }}` and `{{ config(...) }}` with
    literal arguments only, and `{{ '...' }}` (a string constant: gen-model's escape);
  * in YAML: a string value that renders to itself (no Jinja delimiters), or that is exactly
    one `{{ '...' }}` string constant (nested once more where dbt renders the value twice:
    a version's description and tests); a test argument may be a `ref()`/`source()` call
    with literal arguments (`relationships: {to: ref('x')}`), which dbt resolves on purpose;
    the raw-path meta of an enrichment model, which gen-model writes as Jinja on purpose;
    and, at a `data_type` key only, a port's per-engine type switch of plain type names
    (generator.write.engine_types).

The escape is the one dbt documents (`{{ "{{" }}`): a Jinja string constant, written with
`\\x7b`-style escapes for the delimiters so the constant itself holds none. It renders to
the original text, natively or not, so what a description says or a test checks is
unchanged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

import jinja2
from jinja2 import nodes

from generator.errors import Problem, WriteError
from generator.sql.templating import problem_at

RULE = "jinja"
# dbt's own test for "this string may render" (dbt.clients.jinja._HAS_RENDER_CHARS_PAT).
_RENDER_CHARS = re.compile(r"({[{%#]|[#}%]})")
# dbt-core renders a test argument matching this as `{{ value }}` (add_rendered_test_kwargs);
# re.match without DOTALL, as dbt calls it.
_LOOKS_LIKE_FUNC = re.compile(r"^\s*(env_var|ref|var|source|doc)\s*\(.+\)\s*$")
_OPENER = re.compile(r"\{(?=[{%#])")
# Keys whose values are generic tests: their string values are test arguments and configs.
_TEST_KEYS = frozenset({"data_tests", "tests"})
_RESOLVED_CALLS = frozenset({"ref", "source"})
_SQL_CALLS = frozenset({"ref", "source", "config"})
_CONSTRUCT_ENDS = {
    "variable_begin": "variable_end",
    "block_begin": "block_end",
    "comment_begin": "comment_end",
    "raw_begin": "raw_end",
}
# Characters a Jinja string constant writes as escapes: its own quote and escape character,
# and the delimiters' characters, so the constant holds no `{{`, `%}` or `#}` itself.
_ESCAPED = {"\\": "\\\\", "'": "\\'", "{": "\\x7b", "}": "\\x7d", "%": "\\x25", "#": "\\x23"}


@functools.cache
def _environment() -> jinja2.Environment:
    # dbt's own environment (its delimiters and extensions), so the lexer is the one dbt uses.
    # One per process: it only lexes and parses here (never renders), and building one per
    # YAML value cost verify a large share of its time.
    from dbt_common.clients.jinja import get_environment

    return get_environment()


# -- escaping --------------------------------------------------------------------------------


def jinja_string(text: str) -> str:
    """`text` as a Jinja expression that renders to exactly `text`: `{{ '...' }}`.

    Only printable ASCII is written as is; everything else, the quote, the backslash and
    the delimiter characters are escapes Jinja's lexer decodes (unicode-escape).
    """
    pieces = []
    for char in text:
        if char in _ESCAPED:
            pieces.append(_ESCAPED[char])
        elif " " <= char <= "~":
            pieces.append(char)
        elif ord(char) <= 0xFF:
            pieces.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            pieces.append(f"\\u{ord(char):04x}")
        else:
            pieces.append(f"\\U{ord(char):08x}")
    return "{{ '" + "".join(pieces) + "' }}"


def renders(text: str, test_argument: bool = False) -> bool:
    """Would dbt treat this YAML string value as Jinja (as a test argument, if it is one)?"""
    if _RENDER_CHARS.search(text):
        return True
    return test_argument and _LOOKS_LIKE_FUNC.match(text) is not None


def _is_resolved_call(text: str) -> bool:
    """`ref('x')` / `source('a', 'b')` with literal arguments: a test argument dbt resolves."""
    try:
        body = _environment().parse("{{ " + text + " }}").body
    except jinja2.TemplateSyntaxError:
        return False
    return _single_output(body, lambda node: _literal_call(node, _RESOLVED_CALLS))


def _argument_scope(test: bool | None, key) -> bool | None:
    """Where a key leads: True into a test's arguments, False into its config, None outside."""
    if key in _TEST_KEYS:
        return True
    if test and key == "config":
        return False
    return test


def _render_plan(path: tuple) -> tuple[int, bool]:
    """How many times dbt renders the value at a YAML key path, and is it a test argument?

    dbt's schema renderer skips descriptions and tests at the top of a model or of a column,
    but not a version's own description or a version's tests: those are rendered when the
    YAML is read and again later (docs, the test's config, the test's compiled arguments).
    """
    scope = None
    for part in path:
        scope = _argument_scope(scope, part)
    versions = path.index("versions") if "versions" in path else None
    twice = versions is not None and (scope is not None or path[versions + 2 :] == ("description",))
    return (2 if twice else 1), scope is True


def make_inert(data, path: tuple = ()):
    """A copy of YAML data whose string values dbt renders to themselves.

    `path` is where `data` sits in its file (`("versions", 0)` for a version's entry). Dict
    keys are never rendered by dbt and are kept; string values that would render are
    written as `jinja_string`, once per render dbt gives them; a test argument that dbt
    would call (`env_var(...)`) is escaped too, unless it is a `ref()`/`source()` with
    literal arguments.
    """
    if isinstance(data, dict):
        return {key: make_inert(value, (*path, key)) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(make_inert(item, (*path, index)) for index, item in enumerate(data))
    if isinstance(data, str):
        times, test_argument = _render_plan(path)
        if not renders(data, test_argument):
            return data
        if test_argument and not _RENDER_CHARS.search(data) and _is_resolved_call(data):
            return data
        for _ in range(times):
            data = jinja_string(data)
    return data


@functools.lru_cache(maxsize=4096)  # generated YAML repeats its escaped values; the check is pure
def _inert_through(value: str, times: int, test_argument: bool) -> bool:
    """Do `times` renders by dbt leave plain text, running nothing?

    The last render is the one that calls a test argument looking like `env_var(...)`.
    """
    environment = _environment()
    for index in range(times):
        last = test_argument and index == times - 1
        if not renders(value, last):
            continue  # unchanged by this render; a later one may still call it
        if last and not _RENDER_CHARS.search(value) and _is_resolved_call(value):
            return True
        try:
            body = environment.parse(value).body
        except jinja2.TemplateSyntaxError:
            return False
        if not _single_output(body, _is_string_constant):
            return False
        value = body[0].nodes[0].value
    return True


def escape_sql_text(text: str) -> str:
    """SQL text with every Jinja opener (`{{`, `{%`, `{#`) escaped as `{{ '{' }}`.

    For text that must keep its characters (a string literal, a quoted identifier): dbt
    renders the escape back to `{`, so the SQL it runs is the SQL that passed the gates.
    """
    return _OPENER.sub("{{ '{' }}", text)


# -- checking the final bytes ----------------------------------------------------------------


def _single_output(body: list, allowed) -> bool:
    """The template is exactly one `{{ expression }}` whose expression satisfies `allowed`."""
    return (
        len(body) == 1 and isinstance(body[0], nodes.Output) and len(body[0].nodes) == 1 and allowed(body[0].nodes[0])
    )


def _is_string_constant(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Const) and isinstance(node.value, str)


def _literal_call(node: nodes.Node, names: frozenset[str]) -> bool:
    """`name(literal, ..., key=literal)` for one of `names`: nothing in it can run code."""
    if not (isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in names):
        return False
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        return False
    values = [*node.args, *(keyword.value for keyword in node.kwargs)]
    return all(isinstance(value, nodes.Const) for value in values)


def _allowed_in_sql(node: nodes.Node) -> bool:
    return _is_string_constant(node) or _literal_call(node, _SQL_CALLS)


def _problem(message: str, text: str, start: int, end: int, file: str, identifier: str, suggestion: str) -> Problem:
    """A jinja problem at text[start:end] (end exclusive)."""
    return problem_at(
        RULE, message, text, start, max(start, end - 1), identifier=identifier, suggestion=suggestion, file=file
    )


def _syntax_problem(error: jinja2.TemplateSyntaxError, text: str, offset: int, file: str, what: str) -> Problem:
    """dbt's Jinja cannot read the text: point at the first opener on the line it names."""
    line_start = offset
    for _ in range((error.lineno or 1) - 1):
        line_start = text.find("\n", line_start) + 1
    line_end = text.find("\n", line_start)
    line_end = len(text) if line_end == -1 else line_end
    match = _OPENER.search(text, line_start, line_end)
    start = match.start() if match else line_start
    return _problem(
        f"dbt's Jinja cannot read {what}: {error.message}",
        text,
        start,
        start + 2,
        file,
        text[start : start + 2],
        "gen-model writes Jinja only for ref(), source() and its own escapes: rename or rewrite "
        "what holds these delimiters ({{, {%, {#) in the proposal's SQL (a quoted name cannot be "
        "escaped), or in a hand-edited file escape them as {{ '{' }}",
    )


def _constructs(text: str, offset: int = 0) -> Iterator[tuple[int, int, str]]:
    """(start, end, token) of every Jinja construct in `text[offset:]`, as dbt's lexer sees it.

    Raises jinja2.TemplateSyntaxError where dbt's lexer would.
    """
    position = offset
    opened: tuple[int, str] | None = None
    for _line, token, value in _environment().lexer.tokeniter(text[offset:], None):
        # Tokens come in source order; whitespace control (`{%-`) only drops whitespace.
        found = text.find(value, position) if value else position
        start = position if found == -1 else found
        position = start + len(value)
        if token in _CONSTRUCT_ENDS and opened is None:
            opened = (start, token)
        elif opened is not None and token == _CONSTRUCT_ENDS[opened[1]]:
            yield opened[0], position, opened[1]
            opened = None


def sql_problems(text: str, file: str) -> list[Problem]:
    """Every piece of Jinja in a generated `.sql` file that is not ref()/source()/config()
    with literal arguments or a string constant (gen-model's escape), located."""
    # Jinja's lexer reads every line ending as \n; offsets must be offsets in what it read.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    problems = []
    environment = _environment()
    try:
        constructs = list(_constructs(text))
    except jinja2.TemplateSyntaxError as error:
        return [_syntax_problem(error, text, 0, file, "this model")]
    for start, end, token in constructs:
        piece = text[start:end]
        allowed = False
        if token == "variable_begin":
            try:
                allowed = _single_output(environment.parse(piece).body, _allowed_in_sql)
            except jinja2.TemplateSyntaxError:
                allowed = False
        if not allowed:
            problems.append(
                _problem(
                    f"Jinja {piece!r} would be rendered by dbt; a generated model may only hold "
                    "ref(), source() and config() with literal arguments",
                    text,
                    start,
                    end,
                    file,
                    piece,
                    "Remove it, or escape its opening delimiter as {{ '{' }} if it is text "
                    "(inside a string literal or comment); then run the generation again",
                )
            )
    return problems


def _scalars(node, path: tuple = ()) -> Iterator[tuple[tuple, object, int | None, int | None, bool]]:
    """(key path, value, 0-based line, 0-based column, is_key) of every scalar in ruamel data."""
    if isinstance(node, dict):
        for key, value in node.items():
            line, col = _position(node, key, value=False)
            yield (*path, key), key, line, col, True
            line, col = _position(node, key, value=True)
            if isinstance(value, (dict, list)):
                yield from _scalars(value, (*path, key))
            else:
                yield (*path, key), value, line, col, False
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, (dict, list)):
                yield from _scalars(item, (*path, index))
            else:
                line, col = _position(node, index, value=True)
                yield (*path, index), item, line, col, False


def _position(container, key, *, value: bool) -> tuple[int | None, int | None]:
    lc = getattr(container, "lc", None)
    try:
        if isinstance(container, dict):
            return lc.value(key) if value else lc.key(key)
        return lc.item(key)
    except (AttributeError, KeyError, TypeError, IndexError):
        return None, None


def _offset(text: str, line: int | None, col: int | None) -> int:
    if line is None:
        return 0
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
    return start + (col or 0)


def yaml_problems(text: str, file: str) -> list[Problem]:
    """Every string in a generated YAML file that dbt would render as more than itself, located."""
    if certainly_clean(text):
        return []
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        document = YAML(typ="rt").load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        start = _offset(text, mark.line, mark.column) if mark else 0
        return [_problem(f"not valid YAML: {error}", text, start, start + 1, file, "", "Fix the YAML")]
    problems = []
    intended = _intended_jinja()
    for path, value, line, col, is_key in _scalars(document):
        if not isinstance(value, str) or (not is_key and _intended(path, value, intended)):
            continue
        if is_key:
            if not _RENDER_CHARS.search(value):
                continue
        elif _inert_through(value, *_render_plan(path)):
            continue
        start = _offset(text, line, col)
        where = ".".join(str(part) for part in path)
        problems.append(
            _problem(
                f"{where} holds Jinja that dbt would render: {value[:80]!r}",
                text,
                start,
                start + 1,
                file,
                where,
                "Generated YAML holds no live Jinja: write the text as {{ '...' }} (a string constant) "
                "or remove the delimiters, then run `gen-model verify` again",
            )
        )
    return problems


def certainly_clean(text: str) -> bool:
    """True if the file certainly has no problem: libyaml composes it (C, no construction)
    and no scalar in it renders. A ruamel round-trip load costs verify and apply most of
    their own time, and only a problem needs its location; anything this scan cannot
    decide exactly as the round-trip check would (invalid YAML, duplicate or merge keys,
    custom tags, non-string keys) returns False and takes the full check."""
    import yaml

    if not getattr(yaml, "__with_libyaml__", False):
        return False
    try:
        root = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return False
    intended = _intended_jinja()
    stack: list[tuple[object, tuple]] = [(root, ())] if root is not None else []
    while stack:
        node, path = stack.pop()
        if not node.tag.startswith(_YAML_TAGS):
            return False  # a custom tag: ruamel keeps it tagged, the full check decides
        if isinstance(node, yaml.ScalarNode):
            # A scalar libyaml resolves to a bool, number, null or date holds none of the
            # characters that render, so reading every scalar as text decides the same.
            value = node.value
            if not _intended(path, value, intended) and not _inert_through(value, *_render_plan(path)):
                return False
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, index)) for index, item in enumerate(node.value))
        else:
            keys = set()
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag != _YAML_STR or key.value in keys:
                    return False  # merge keys, complex or non-string keys, duplicates
                if _RENDER_CHARS.search(key.value):
                    return False
                keys.add(key.value)
                stack.append((value, (*path, key.value)))
    return True


_YAML_TAGS = "tag:yaml.org,2002:"
_YAML_STR = _YAML_TAGS + "str"


def _intended_jinja() -> frozenset[str]:
    """YAML values gen-model writes as live Jinja on purpose: an enrichment model's raw path."""
    from generator.enrich.compiler import RAW_PATH_META

    return frozenset({RAW_PATH_META})


def _intended(path: tuple, value: str, intended: frozenset[str]) -> bool:
    """gen-model's own live Jinja: the values above, and a port's per-engine contract type
    (exactly generator.write.engine_types' switch, at a `data_type` key only)."""
    from generator.write.engine_types import is_type_switch

    return value in intended or (bool(path) and path[-1] == "data_type" and is_type_switch(value))


def file_problems(path: str, text: str) -> list[Problem]:
    """The Jinja problems of one generated file, by its kind (`.sql`, `.yml`/`.yaml`).

    An enrichment spec (`*.enrich.yml`) is data gen-model reads, not dbt properties, and a
    compiled Python model is not rendered as a template: neither is checked here.
    """
    from generator.enrich.spec import SPEC_SUFFIX

    if path.endswith(SPEC_SUFFIX):
        return []
    if path.endswith(".sql"):
        return sql_problems(text, path)
    if path.endswith((".yml", ".yaml")):
        return yaml_problems(text, path)
    return []


def check_files(files: Iterable[tuple[str, str]]) -> None:
    """Raise WriteError naming every Jinja problem in (path, final text) pairs; write nothing."""
    problems = [problem for path, text in files for problem in file_problems(path, text)]
    if problems:
        raise WriteError(
            "refusing to write files dbt would render untrusted Jinja from (nothing was written)",
            problems,
        )

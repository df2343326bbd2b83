"""The project's SQL case: keywords and date parts as its hand-written models write them.

A generated model sits beside the project's own; `select ... date_trunc('MONTH', x)` in a
project that writes `SELECT ... DATE_TRUNC('month', x)` (or the other way round) reads as
foreign. Two things are read from the hand-written `.sql` models, each on its own:

  keywords    `select`, `from`, `join`, `as`, ... outside Jinja, strings, comments and
              quoted names;
  date parts  the unit of `date_trunc`/`date_part`/`date_diff`/... (`'month'`, in SQL or
              in a `{{ dbt.date_trunc("month", ...) }}` call), of `extract(month from x)`
              and of `interval 1 month`.

A case is the project's when it holds at least `CLEAR_MAJORITY` of what was found: a stray
`AS` among a thousand `as` does not make a project mixed, half and half does. Nothing
found, or mixed, gives None: the formatter's default (lowercase keywords; date parts as
sqlglot writes them, `'MONTH'` in a function's argument, `month` after `interval`).

The two are read apart because they are apart in practice: a lowercase project that never
truncates a date shows no preference for date parts, and its generated files stay as they
were.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

LOWER, UPPER = "lower", "upper"
CLEAR_MAJORITY = 0.9

# Units DuckDB (and dbt's cross-database macros) accept; a word not here is not a date part.
DATE_PARTS = frozenset(
    """
    year years quarter quarters month months week weeks day days hour hours minute minutes
    second seconds millisecond milliseconds microsecond microseconds decade decades century
    centuries millennium millennia dow isodow doy dayofweek dayofyear dayofmonth weekday
    weekofyear yearweek isoyear epoch era julian timezone timezone_hour timezone_minute
    """.split()
)
# Functions whose first argument is a date part, as DuckDB and dbt's macros spell them.
DATE_PART_FUNCTIONS = frozenset(
    """
    date_trunc datetrunc date_part datepart date_diff datediff date_sub datesub date_add dateadd
    timestamp_trunc timestampadd timestampdiff
    """.split()
)
KEYWORDS = frozenset(
    """
    select from where join on as group by order having case when then else end and or not
    null is in with union left inner distinct over partition
    """.split()
)

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/|\{#.*?#\}", re.S)
_STRINGS_AND_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_WORD = re.compile(r"\b[A-Za-z_]+\b")
_UNIT = r"[\"']?\s*([A-Za-z_]+)\s*[\"']?"
_DATE_PART_USES = re.compile(
    rf"\b(?:dbt\s*\.\s*)?(\w+)\s*\(\s*{_UNIT}\s*,"  # date_trunc('month', ...)
    rf"|\bextract\s*\(\s*{_UNIT}\s+from\b"  # extract(month from ...)
    r"|\binterval\s+'?\s*-?[\d.]+\s*'?\s*([A-Za-z_]+)",  # interval 1 month, '1 month', '1' month
    re.I,
)


@dataclass(frozen=True)
class SqlStyle:
    """How the project writes the case of keywords and date parts (None: no clear case)."""

    keywords: str | None = None
    date_parts: str | None = None


DEFAULT_STYLE = SqlStyle()


def case_of(word: str) -> str | None:
    """'lower', 'upper', or None for a word in neither (`Select`)."""
    if word.islower():
        return LOWER
    if word.isupper():
        return UPPER
    return None


def _clear_case(cases: list[str | None]) -> str | None:
    if not cases:
        return None
    for case in (LOWER, UPPER):
        if cases.count(case) >= CLEAR_MAJORITY * len(cases):
            return case
    return None


def keyword_cases(sql: str) -> list[str | None]:
    """The case of each keyword in one model's SQL (Jinja, strings, comments left out)."""
    code = _STRINGS_AND_QUOTED.sub(" ", _JINJA.sub(" ", _COMMENTS.sub(" ", sql)))
    return [case_of(word) for word in _WORD.findall(code) if word.lower() in KEYWORDS]


def date_part_cases(sql: str) -> list[str | None]:
    """The case of each date part one model's SQL names (Jinja macro calls included)."""
    found = []
    for match in _DATE_PART_USES.finditer(_COMMENTS.sub(" ", sql)):
        function, in_call, in_extract, in_interval = match.groups()
        if in_call is not None and function.lower() not in DATE_PART_FUNCTIONS:
            continue
        unit = in_call or in_extract or in_interval
        if unit.lower() in DATE_PARTS:
            found.append(case_of(unit))
    return found


def sniff_style(texts: Iterable[str]) -> SqlStyle:
    """The style of a set of models' SQL texts: each case by its clear majority, or None."""
    keywords: list[str | None] = []
    date_parts: list[str | None] = []
    for text in texts:
        keywords += keyword_cases(text)
        date_parts += date_part_cases(text)
    return SqlStyle(keywords=_clear_case(keywords), date_parts=_clear_case(date_parts))


def project_style(catalog) -> SqlStyle:
    """The style of the project's hand-written SQL models, as `catalog` lists them.

    Generated models are left out: the style is the people's, and reading our own output
    would keep whatever we once wrote. Files that cannot be read are skipped.
    """
    texts = []
    for relation in catalog.models:
        path = relation.original_file_path
        if relation.generated or relation.package_name != catalog.project_name or not path or not path.endswith(".sql"):
            continue
        try:
            texts.append((catalog.project_dir / path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return sniff_style(texts)

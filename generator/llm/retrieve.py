"""Retrieval: the part of the catalog a request needs, rendered within a token budget.

Ranking is deterministic and offline: words of the request are matched against relation
names (snake_case split, lightly stemmed), descriptions, and column names and descriptions,
each word weighted by its IDF over the catalog so that words every relation has ("id", "at")
count little. The best hits then pull in their one-hop join neighbours: relations their
foreign keys point at, relations whose foreign keys point at them, and relations sharing a
key column (`account_id` in one, primary key `account_id` in another). Models are preferred
over the sources they stage (marts read staging, not sources; the link comes from dbt's
`depends_on`, else from naming conventions), only the latest version of a versioned model
is offered, and raw files (NDJSON, CSV, ...) compete on the same terms. Run-together names
(`sbdailyprice`) are split against a vocabulary of the catalog's own words; on a warehouse
of unrelated sources, the best match's source comes before tables of other sources.

The ranked list fills the budget greedily: a relation that does not fit whole is rendered
compactly (names and types only), else dropped. The same catalog and request always give
byte-identical output.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from generator.llm.tokens import estimate_tokens
from generator.project.catalog import Catalog, Column, RawFile, Relation

DEFAULT_BUDGET_TOKENS = 6000

# Field weights: a word in a relation's name says more than one in a column description.
NAME_WEIGHT = 3.0
COLUMN_NAME_WEIGHT = 1.5
DESCRIPTION_WEIGHT = 1.0
COLUMN_DESCRIPTION_WEIGHT = 0.5
VALUE_WEIGHT = 0.5
SYNONYM_FACTOR = 0.4  # a synonym match is worth less than the word itself
NAMED_IN_REQUEST_BONUS = 10.0  # the request names the relation outright

STAGED_SOURCE_FACTOR = 0.25  # a source a staging model already cleans up
NOT_BUILT_FACTOR = 0.5  # a model not yet in the warehouse cannot be dry-run against
FORWARD_NEIGHBOUR_FACTOR = 0.5  # a hit's foreign key points here: needed to join
REVERSE_NEIGHBOUR_FACTOR = 0.4  # points at a hit: often the fact table for it
MAX_EXPANDED_HITS = 5  # only the best hits pull in neighbours
MAX_NEIGHBOURS_PER_HIT = 6
EXPAND_RATIO = 0.5  # ... and only those scoring at least this share of the best
MIN_SCORE_RATIO = 0.1  # candidates below this share of the best score are not offered
# A warehouse of unrelated raw schemas (one source per system): tables of another source
# than the best match's come after its own, and join "neighbours" across systems (a shared
# `id`) count for less.
OTHER_SOURCE_FACTOR = 0.5
OTHER_SOURCE_MIN_RATIO = 0.2  # ... and are offered only at this share of the best score (0.1 otherwise)

MAX_DESCRIPTION_CHARS = 200
MAX_COLUMN_DESCRIPTION_CHARS = 100
MAX_VALUES = 12
MAX_SAMPLES = 5

STOP_WORDS = frozenset(
    """a an and are as at be by each every for from get give has have how i in into is it its
    me my of on one or our per please show that the their them then there these this to
    us want we what when where which who with without""".split()
)

# A few analytics synonyms, both ways; kept small on purpose (matches are down-weighted).
SYNONYM_GROUPS = (
    ("customer", "account", "client", "user"),
    ("revenue", "amount", "sale", "mrr", "price", "total"),
    ("order", "purchase", "transaction"),
    ("product", "item", "sku"),
    ("employee", "staff", "worker"),
    ("ticket", "case", "issue"),
    ("month", "date", "day", "period"),
    ("count", "number"),
)
_SYNONYMS: dict[str, tuple[str, ...]] = {}
for _group in SYNONYM_GROUPS:
    for _word in _group:
        _SYNONYMS[_word] = tuple(other for other in _group if other != _word)


# -- words ---------------------------------------------------------------------------------


def stem(word: str) -> str:
    """A light, predictable stemmer: plural s, -ies, -ing, -ed, -ly."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "uses", "xes", "ches", "shes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def terms(text: str) -> list[str]:
    """Stemmed, lowercased words of `text`: snake_case and camelCase split, stop words dropped."""
    words = []
    for raw in _WORD.findall(text or ""):
        word = raw.lower()
        if word in STOP_WORDS or (len(word) < 2 and not word.isdigit()):
            continue
        words.append(stem(word))
    return words


MIN_COMPOUND_PART = 4  # shorter pieces of a run-together name are not trusted as words
MIN_COMPOUND_COVER = 0.6  # ... and known words must cover this share of it


def split_compound(word: str, vocabulary: set[str] | frozenset[str]) -> tuple[str, ...]:
    """Known words inside a run-together lower-case identifier, or () if it is not one.

    `sbcustomer` -> ('customer',), `sbdailyprice` -> ('daily', 'price') when the vocabulary
    (words seen on their own elsewhere: other names, columns, descriptions, the request)
    has them. The split covering the most characters wins, then the one with fewest pieces;
    a few characters may stay unmatched (`sb`), but not more than 40%.
    """
    size = len(word)
    if size < MIN_COMPOUND_PART + 2:
        return ()
    # best[i]: (characters covered, -pieces, pieces) for word[:i]
    best: list[tuple[int, int, tuple[str, ...]] | None] = [None] * (size + 1)
    best[0] = (0, 0, ())
    for start in range(size):
        here = best[start]
        if here is None:
            continue
        covered, pieces, parts = here
        options = [(start + 1, (covered, pieces, parts))]
        for end in range(start + MIN_COMPOUND_PART, size + 1):
            piece = word[start:end]
            if piece != word and piece in vocabulary:
                options.append((end, (covered + len(piece), pieces - 1, (*parts, piece))))
        for end, option in options:
            if best[end] is None or option[:2] > best[end][:2]:
                best[end] = option
    covered, _, parts = best[size]
    return parts if parts and covered >= MIN_COMPOUND_COVER * size else ()


def _with_compound_parts(candidates: list, query: list[str]) -> None:
    """Add the words inside run-together names and column names to each candidate's terms."""
    vocabulary = {word for c in candidates for word in c.all_terms() if len(word) >= MIN_COMPOUND_PART}
    vocabulary |= {word for word in query if len(word) >= MIN_COMPOUND_PART}
    cache: dict[str, tuple[str, ...]] = {}

    def parts(word: str) -> tuple[str, ...]:
        if word not in cache:
            cache[word] = split_compound(word, vocabulary)
        return cache[word]

    for candidate in candidates:
        candidate.fields["name"] |= {p for w in list(candidate.fields["name"]) for p in parts(w)}
        for column_terms in candidate.column_terms.values():
            extra = {p for w in column_terms for p in parts(w)}
            if extra:
                column_terms |= extra
                candidate.fields["column"] |= extra


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredItem:
    """One candidate the ranking considered, with why it scored what it did."""

    key: str  # ref('x'), source('a', 'b') or file 'path'
    kind: str  # relation | raw_file
    score: float
    reasons: tuple[str, ...]
    rendering: str  # full | compact | dropped


@dataclass(frozen=True)
class CatalogSlice:
    """What retrieval chose for a request: the relations and files, and their rendering."""

    request: str
    budget_tokens: int
    relations: tuple[Relation, ...]  # included, best first
    raw_files: tuple[RawFile, ...]  # included, best first
    items: tuple[ScoredItem, ...]  # every candidate offered, best first (dropped ones too)
    text: str  # the rendered catalog, one block per relation or file
    token_estimate: int  # estimate_tokens(text); never above budget_tokens

    @property
    def included(self) -> tuple[ScoredItem, ...]:
        return tuple(item for item in self.items if item.rendering != "dropped")

    @property
    def dropped(self) -> tuple[ScoredItem, ...]:
        return tuple(item for item in self.items if item.rendering == "dropped")

    def summary(self) -> str:
        """One line per candidate: rendering, score, key and reasons (for `gen-model context`)."""
        lines = []
        for item in self.items:
            lines.append(f"{item.rendering:<8} {item.score:7.2f}  {item.key}  ({'; '.join(item.reasons)})")
        lines.append(f"{self.token_estimate} of {self.budget_tokens} tokens (estimated)")
        return "\n".join(lines)


# -- rendering -----------------------------------------------------------------------------

_SIMPLE_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _identifier(name: str) -> str:
    """A column name as the SQL must write it: bare when simple, double-quoted otherwise."""
    if _SIMPLE_IDENTIFIER.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _one_line(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _values(values: tuple[str, ...], limit: int) -> str:
    shown = [_literal(value) for value in values[:limit]]
    if len(values) > limit:
        shown.append("...")
    return ",".join(shown)


def _header(display: str, description: str, row_count: int | None, extra: str = "") -> str:
    line = display + extra
    description = _one_line(description, MAX_DESCRIPTION_CHARS)
    if description:
        line += " — " + description.rstrip(".") + "."
    if row_count is not None:
        line += f" rows: {row_count:,}"
    return line


def _column_line(column: Column, primary_key: tuple[str, ...], foreign: str | None) -> str:
    parts = [_identifier(column.name), (column.data_type or "unknown").lower()]
    is_pk = column.name.lower() in {key.lower() for key in primary_key}
    if is_pk:
        parts.append("pk")
    if column.not_null or is_pk:
        parts.append("not-null")
    if column.unique and not is_pk:
        parts.append("unique")
    if foreign:
        parts.append("-> " + foreign)
    if column.accepted_values:
        parts.append(f"in ({_values(column.accepted_values, MAX_VALUES)})")
    elif column.sample_values:
        parts.append(f"e.g. {_values(column.sample_values, MAX_SAMPLES)}")
    description = _one_line(column.description, MAX_COLUMN_DESCRIPTION_CHARS)
    if description:
        parts.append("-- " + description)
    return "  " + " ".join(parts)


def _compact_columns(columns: tuple[Column, ...], primary_key: tuple[str, ...]) -> str:
    keys = {key.lower() for key in primary_key}
    rendered = []
    for column in columns:
        text = f"{_identifier(column.name)} {(column.data_type or 'unknown').lower()}"
        if column.name.lower() in keys:
            text += " pk"
        rendered.append(text)
    return "  columns: " + ", ".join(rendered)


def render_relation(relation: Relation, catalog: Catalog, mode: str = "full") -> str:
    """One relation as a text block: a header line, then its columns (`full` or `compact`)."""
    extra = "" if relation.exists else " (not built yet)"
    lines = [_header(relation.display, relation.description, relation.row_count, extra)]
    if mode == "compact":
        if relation.columns:
            lines.append(_compact_columns(relation.columns, relation.primary_key))
        return "\n".join(lines)
    foreign = {}
    for key in relation.foreign_keys:
        target = catalog.by_unique_id(key.to)
        where = target.display if target else key.to
        foreign.setdefault(key.column.lower(), f"{where}.{_identifier(key.to_column)}")
    for column in relation.columns:
        lines.append(_column_line(column, relation.primary_key, foreign.get(column.name.lower())))
    return "\n".join(lines)


def raw_file_display(raw_file: RawFile) -> str:
    return f"file {_literal(raw_file.path)}"


def render_raw_file(raw_file: RawFile, mode: str = "full") -> str:
    """A raw file as a text block, like a relation (format and record path in the header)."""
    extra = f" ({raw_file.format}"
    if raw_file.record_path:
        extra += f", records at {raw_file.record_path}"
    if raw_file.input_path and raw_file.input_path != raw_file.path:
        extra += f", spec input.path {_literal(raw_file.input_path)}"
    if raw_file.staged_by:
        extra += ", staged by " + ", ".join(f"ref('{name}')" for name in raw_file.staged_by)
    extra += ")"
    lines = [_header(raw_file_display(raw_file), raw_file.description, raw_file.row_count, extra)]
    if mode == "compact":
        if raw_file.columns:
            lines.append(_compact_columns(raw_file.columns, ()))
        return "\n".join(lines)
    for column in raw_file.columns:
        lines.append(_column_line(column, (), None))
    return "\n".join(lines)


# -- ranking -------------------------------------------------------------------------------


@dataclass
class _Candidate:
    key: str
    kind: str
    subject: Relation | RawFile
    fields: dict[str, set[str]]  # field name -> its terms
    column_terms: dict[str, set[str]] = field(default_factory=dict)  # column name -> its name terms
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)
    named: bool = False  # the request names it outright
    staged_by: Relation | None = None  # a staging model cleans it up: offer that instead
    other_source: bool = False  # a table of another source than the best match's

    @property
    def name(self) -> str:
        subject = self.subject
        return subject.name if isinstance(subject, Relation) else subject.path

    def all_terms(self) -> set[str]:
        result: set[str] = set()
        for words in self.fields.values():
            result |= words
        return result


def _eligible(relation: Relation) -> bool:
    """Only what a proposal may reference: latest versions (or unversioned), not tests."""
    if relation.resource_type not in ("model", "seed", "snapshot", "source"):
        return False
    if relation.version is not None and relation.latest_version is not None:
        return relation.version == relation.latest_version
    return True


def _column_fields(
    columns: tuple[Column, ...],
) -> tuple[set[str], set[str], set[str], dict[str, set[str]]]:
    names: set[str] = set()
    descriptions: set[str] = set()
    values: set[str] = set()
    per_column: dict[str, set[str]] = {}
    for column in columns:
        column_terms = set(terms(column.name))
        per_column[column.name] = column_terms
        names |= column_terms
        descriptions |= set(terms(column.description))
        for value in (column.accepted_values or ()) + tuple(column.sample_values):
            values |= set(terms(str(value)))
    return names, descriptions, values, per_column


def _relation_candidate(relation: Relation) -> _Candidate:
    names, descriptions, values, per_column = _column_fields(relation.columns)
    name_terms = set(terms(relation.name))
    if relation.is_source and relation.source_name:
        name_terms |= set(terms(relation.source_name))
    return _Candidate(
        key=relation.display,
        kind="relation",
        subject=relation,
        fields={
            "name": name_terms,
            "description": set(terms(relation.description)),
            "column": names,
            "column description": descriptions,
            "value": values,
        },
        column_terms=per_column,
    )


def _raw_file_candidate(raw_file: RawFile) -> _Candidate:
    names, descriptions, values, per_column = _column_fields(raw_file.columns)
    return _Candidate(
        key=raw_file_display(raw_file),
        kind="raw_file",
        subject=raw_file,
        fields={
            "name": set(terms(raw_file.path.rsplit("/", 1)[-1].rsplit(".", 1)[0])) | set(terms(raw_file.path)),
            "description": set(terms(raw_file.description)),
            "column": names,
            "column description": descriptions,
            "value": values,
        },
        column_terms=per_column,
    )


_FIELD_WEIGHTS = {
    "name": NAME_WEIGHT,
    "column": COLUMN_NAME_WEIGHT,
    "description": DESCRIPTION_WEIGHT,
    "column description": COLUMN_DESCRIPTION_WEIGHT,
    "value": VALUE_WEIGHT,
}


def _score(candidate: _Candidate, query: list[str], idf: dict[str, float]) -> None:
    for word in query:
        best = 0.0
        best_reason = ""
        for variant, factor in [(word, 1.0)] + [(s, SYNONYM_FACTOR) for s in _SYNONYMS.get(word, ())]:
            for field_name, weight in _FIELD_WEIGHTS.items():
                if variant in candidate.fields[field_name]:
                    value = weight * factor * idf.get(variant, 0.0)
                    if value > best:
                        best = value
                        where = field_name
                        if field_name == "column":
                            columns = sorted(c for c, t in candidate.column_terms.items() if variant in t)
                            where = f"column {columns[0]}" if columns else field_name
                        via = f" (as {variant!r})" if variant != word else ""
                        best_reason = f"{where} matches {word!r}{via}"
        if best > 0:
            candidate.score += best
            candidate.reasons.append(best_reason)


def _named_in_request(name: str, request: str) -> bool:
    # Plain words ('orders') are matched as words already; only identifier-like names count.
    if "_" not in name and "." not in name:
        return False
    return re.search(r"(?<![a-z0-9_])" + re.escape(name.lower()) + r"(?![a-z0-9_])", request.lower()) is not None


def _staging_model(relation: Relation, models: dict[str, Relation]) -> Relation | None:
    """The staging model that cleans up a source or seed: from dbt's depends_on when a model
    reads it and nothing else (jaffle-shop's stg_orders reads source('ecom', 'raw_orders')),
    else by dbt's naming convention."""
    if relation.is_source or relation.resource_type == "seed":
        readers = sorted(
            (m for m in models.values() if m.depends_on == (relation.unique_id,)),
            key=lambda m: (not m.name.lower().startswith("stg"), m.name),
        )
        if readers:
            return readers[0]
    table = relation.name.lower()
    if relation.is_source:
        prefix = (relation.source_name or "").lower()
        bases = [f"{prefix}__{table}", f"{prefix}_{table}", table]
    elif relation.resource_type == "seed":
        # jaffle-shop style: seed raw_orders is staged by stg_orders.
        bases = [table[4:] if table.startswith("raw_") else table, table]
    else:
        return None
    candidates = []
    for base in bases:
        head, _, entity = base.rpartition("__")
        singular = stem(entity)
        for variant in (entity, f"{singular}s", singular):
            candidates.append(f"stg_{head}__{variant}" if head else f"stg_{variant}")
    for name in dict.fromkeys(candidates):
        staging = models.get(name)
        if staging is not None and staging is not relation:
            return staging
    return None


def _key_columns(relation: Relation) -> set[str]:
    """Columns that identify rows of `relation`: its primary key, else a unique `<x>_id`."""
    if len(relation.primary_key) == 1:
        return {relation.primary_key[0].lower()}
    if relation.primary_key:
        return set()
    return {c.name.lower() for c in relation.columns if c.unique and c.name.lower().endswith("id")}


def _neighbours(
    hit: Relation, relations: list[Relation], by_uid: dict[str, Relation]
) -> list[tuple[Relation, str, float]]:
    """One-hop join neighbours of `hit`: (relation, reason, factor)."""
    found: list[tuple[Relation, str, float]] = []
    for key in hit.foreign_keys:
        target = by_uid.get(key.to)
        if target is not None and target is not hit:
            found.append((target, f"{hit.display}.{key.column} references it", FORWARD_NEIGHBOUR_FACTOR))
    hit_columns = {c.name.lower() for c in hit.columns}
    hit_keys = _key_columns(hit)
    for other in relations:
        if other is hit:
            continue
        if any(key.to == hit.unique_id for key in other.foreign_keys):
            found.append((other, f"references {hit.display}", REVERSE_NEIGHBOUR_FACTOR))
            continue
        other_keys = _key_columns(other)
        shared_forward = sorted(other_keys & hit_columns - hit_keys)
        if shared_forward:
            found.append(
                (
                    other,
                    f"{hit.display}.{shared_forward[0]} matches its key",
                    FORWARD_NEIGHBOUR_FACTOR,
                )
            )
            continue
        other_columns = {c.name.lower() for c in other.columns}
        shared_reverse = sorted(hit_keys & other_columns - other_keys)
        if shared_reverse:
            found.append((other, f"has {hit.display}'s key {shared_reverse[0]}", REVERSE_NEIGHBOUR_FACTOR))
    return found


def rank(catalog: Catalog, request: str) -> list[_Candidate]:  # noqa: C901 - the scoring formula's terms, each documented where it is added
    """Every candidate worth offering for `request`, best first (ties by key)."""
    relations = sorted((r for r in catalog.relations if _eligible(r)), key=lambda r: (r.display, r.unique_id))
    candidates = [_relation_candidate(r) for r in relations]
    candidates += [_raw_file_candidate(f) for f in sorted(catalog.raw_files, key=lambda f: f.path)]
    if not candidates:
        return []
    query = list(dict.fromkeys(terms(request)))
    _with_compound_parts(candidates, query)

    document_count = len(candidates)
    frequency: dict[str, int] = {}
    for candidate in candidates:
        for word in candidate.all_terms():
            frequency[word] = frequency.get(word, 0) + 1
    idf = {word: math.log(1 + document_count / count) for word, count in frequency.items()}

    for candidate in candidates:
        _score(candidate, query, idf)
        subject = candidate.subject
        dotted = f"{subject.source_name}.{subject.name}" if isinstance(subject, Relation) and subject.is_source else ""
        if _named_in_request(candidate.name, request) or (dotted and _named_in_request(dotted, request)):
            candidate.named = True
            candidate.score += NAMED_IN_REQUEST_BONUS
            candidate.reasons.insert(0, "named in the request")

    by_key = {candidate.key: candidate for candidate in candidates}
    relation_candidates = [c for c in candidates if c.kind == "relation"]
    by_uid = {c.subject.unique_id: c.subject for c in relation_candidates}

    # Marts read staging, not sources: a source or seed that a staging model cleans up is
    # not offered (unless the request names it); the staging model is.
    models = {r.name.lower(): r for r in relations if r.resource_type == "model"}
    staged: set[str] = set()
    for candidate in relation_candidates:
        relation = candidate.subject
        staging = _staging_model(relation, models)
        if staging is not None:
            staged.add(candidate.key)
            candidate.staged_by = staging
            candidate.score *= STAGED_SOURCE_FACTOR
            candidate.reasons.append(f"staged by {staging.display}: use that instead")
        elif not relation.exists:
            candidate.score *= NOT_BUILT_FACTOR
            candidate.reasons.append("not built in the warehouse yet")

    # One hop from the best hits (by their own score, before neighbours lift anything).
    hits = sorted((c for c in relation_candidates if c.score > 0), key=lambda c: (-c.score, c.key))
    all_relations = [c.subject for c in relation_candidates]
    if hits:
        best = hits[0].score
        lifts: dict[str, tuple[float, str]] = {}
        for hit in hits[:MAX_EXPANDED_HITS]:
            if hit.score < EXPAND_RATIO * best:
                break
            found = []
            for neighbour, reason, factor in _neighbours(hit.subject, all_relations, by_uid):
                target = by_key.get(neighbour.display)
                if target is not None and target.subject is neighbour:
                    found.append((factor, target, reason))
            # A popular key (customer_id) is in many tables: keep the closest few.
            found.sort(key=lambda item: (-item[0], -item[1].score, item[1].key))
            for factor, target, reason in found[:MAX_NEIGHBOURS_PER_HIT]:
                lift = hit.score * factor
                if target.key in staged:
                    lift *= STAGED_SOURCE_FACTOR
                if lift > lifts.get(target.key, (0.0, ""))[0]:
                    lifts[target.key] = (lift, "join neighbour: " + reason)
        for key in sorted(lifts):
            lift, reason = lifts[key]
            target = by_key[key]
            target.score = max(target.score, lift)
            target.reasons.append(reason)

    _prefer_best_source(relation_candidates, hits)

    scored = [c for c in candidates if c.score > 0]
    if not scored:
        # Nothing matched: offer an overview, models before the sources they stage.
        for candidate in candidates:
            relation = candidate.subject
            staged = isinstance(relation, Relation) and relation.is_source and _staging_model(relation, models)
            candidate.score = 0.0
            candidate.reasons = ["no word of the request matched; catalog overview"]
            if staged:
                candidate.reasons.append("staged by a model")
        return sorted(candidates, key=lambda c: (_overview_order(c, models), c.key))

    top = max(c.score for c in scored)
    offered = [c for c in scored if c.score >= (OTHER_SOURCE_MIN_RATIO if c.other_source else MIN_SCORE_RATIO) * top]
    return sorted(offered, key=lambda c: (-round(c.score, 9), c.key))


def _prefer_best_source(relation_candidates: list[_Candidate], hits: list[_Candidate]) -> None:
    """When the best match is a source table, other sources' tables score less."""
    if not hits or not hits[0].subject.is_source:
        return
    best = hits[0].subject.source_name
    for candidate in relation_candidates:
        relation = candidate.subject
        if relation.is_source and relation.source_name != best and candidate.score > 0:
            candidate.score *= OTHER_SOURCE_FACTOR
            candidate.other_source = True
            candidate.reasons.append(f"another source than the best match's ({best})")


def _overview_order(candidate: _Candidate, models: dict[str, Relation]) -> int:
    subject = candidate.subject
    if isinstance(subject, RawFile):
        return 2
    if _staging_model(subject, models):
        return 3
    return 1 if subject.is_source else 0


# -- budget --------------------------------------------------------------------------------


def retrieve(catalog: Catalog, request: str, budget_tokens: int = DEFAULT_BUDGET_TOKENS) -> CatalogSlice:
    """Choose and render the catalog entries `request` needs, within `budget_tokens` (estimated).

    Ranked candidates are taken greedily: whole if they fit, else compactly (column names
    and types only), else dropped (a smaller one further down may still fit).
    """
    ranked = rank(catalog, request)
    blocks: list[str] = []
    items: list[ScoredItem] = []
    relations: list[Relation] = []
    raw_files: list[RawFile] = []
    used = 0
    for candidate in ranked:
        subject = candidate.subject
        rendering = "dropped"
        # A staged source is listed (so `gen-model context` shows why) but not sent.
        modes = () if candidate.staged_by is not None and not candidate.named else ("full", "compact")
        for mode in modes:
            if isinstance(subject, Relation):
                block = render_relation(subject, catalog, mode)
            else:
                block = render_raw_file(subject, mode)
            # Blocks are joined by a blank line: count it with the block.
            cost = estimate_tokens(block + "\n\n")
            if used + cost <= budget_tokens:
                blocks.append(block)
                used += cost
                rendering = mode
                if isinstance(subject, Relation):
                    relations.append(subject)
                else:
                    raw_files.append(subject)
                break
        items.append(
            ScoredItem(
                key=candidate.key,
                kind=candidate.kind,
                score=round(candidate.score, 4),
                reasons=tuple(candidate.reasons),
                rendering=rendering,
            )
        )
    text = "\n\n".join(blocks)
    tokens = estimate_tokens(text)
    # The per-block sum bounds the whole (pieces never merge across the blank line), so this
    # holds; it is asserted rather than trusted because the budget is a promise.
    assert tokens <= max(budget_tokens, 0), (tokens, budget_tokens)
    return CatalogSlice(
        request=request,
        budget_tokens=budget_tokens,
        relations=tuple(relations),
        raw_files=tuple(raw_files),
        items=tuple(items),
        text=text,
        token_estimate=tokens,
    )

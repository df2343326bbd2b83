"""The DuckDB sandbox a proposal is dry-run in: read-only, offline, bounded, interruptible.

A proposal is untrusted text. It runs on an in-memory DuckDB connection that sees the
project's warehouse file attached READ_ONLY under the name dbt uses for it, and nothing
else: once the connection is set up, file and URL access outside `allowed_directories`,
COPY, ATTACH, INSTALL and LOAD are refused by DuckDB itself, and the configuration
(including memory and thread limits) is locked so the proposal cannot undo any of it.

Memory: the dry run materialises the result once, as a temp table in the in-memory
database, and the grain check (and anything else that reads the result) queries that
table. The alternative, re-running the proposal inside `count(*)` / `group by` wrappers,
was measured on 5M orders joined to 1M customers (8 columns out, 2 threads, 23 GB box):

    materialise once (Sandbox.materialise, then the grain query on the table)
        memory_limit 4 GiB  : 0.9 s + 0.5 s grain, peak RSS +970 MiB
        memory_limit 256 MiB: 1.3 s + 0.5 s grain, peak RSS +300 MiB (the rest spilled)
    re-run per check (count(*), then group by on the key, each over the query)
        0.3 s in all, peak RSS +290 MiB

Re-running looks cheaper, but it is wrong: DuckDB prunes every column a wrapper does not
read, so `select count(*) from (select cast(status as int) ...)` succeeds while the model
itself fails in `dbt build` with a conversion error. Only executing every column of every
row proves the model runs, so we materialise, and bound memory with `memory_limit` plus a
private, size-capped spill directory instead of holding everything in RAM.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from generator.errors import ConfigError, GateError, GenModelError
from generator.limits import QUERY_TIMEOUT_S

SANDBOX_DATABASE = "gen_model_sandbox"
RESULT_TABLE = "gen_model_dry_run"
_MIB = 1024 * 1024


# Session settings that change what a query returns, copied from the profile when set there.
RESULT_SETTINGS = frozenset({"timezone", "calendar", "default_collation", "default_null_order", "default_order"})


class SandboxQueryError(GateError):
    """DuckDB refused or failed a query in the sandbox; `message` is DuckDB's own text."""

    def __init__(self, message: str, duckdb_message: str, sql: str):
        super().__init__(message)
        self.duckdb_message = duckdb_message
        self.sql = sql

    @property
    def summary(self) -> str:
        """DuckDB's message without its `LINE n:` excerpt (which shows the executed SQL)."""
        return _strip_excerpt(self.duckdb_message)

    def position(self) -> tuple[int, int, int] | None:
        """(line, column, width) in the executed SQL, 1-based, if DuckDB gave a position."""
        return _error_position(self.duckdb_message, self.sql)


class SandboxTimeout(SandboxQueryError):
    """A query ran past the sandbox's time limit and was interrupted."""

    def __init__(self, timeout_s: float, sql: str):
        super().__init__(
            f"the query was interrupted after {timeout_s:g} s",
            f"Interrupted after {timeout_s:g} s",
            sql,
        )
        self.timeout_s = timeout_s


@dataclass(frozen=True)
class Materialised:
    """What running a query into the sandbox's result table produced."""

    table: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type as DESCRIBE reports it)
    row_count: int
    elapsed_s: float


def default_memory_limit() -> str:
    """A quarter of physical memory, at least 512 MiB and at most 4 GiB.

    Enough for dry runs over millions of rows (the rest spills to disk), small enough that
    a runaway join cannot take the machine from the person running gen-model.
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 1024 * _MIB
    return f"{max(512 * _MIB, min(4096 * _MIB, total // 4)) // _MIB}MiB"


def default_max_temp_size() -> str:
    """Half the free space of the temp file system, at most 8 GiB: spilling must not fill
    the disk of the person running gen-model."""
    try:
        free = shutil.disk_usage(tempfile.gettempdir()).free
    except OSError:
        free = 2 * 8192 * _MIB
    return f"{max(256 * _MIB, min(8192 * _MIB, free // 2)) // _MIB}MiB"


def default_threads() -> int:
    """At most four threads: dry runs are small next to what they could take."""
    return max(1, min(4, os.cpu_count() or 1))


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_identifier(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


class _Watchdog:
    """One daemon thread that calls `interrupt` when the statement it watches runs past its
    limit. The interrupt is made with the lock held and `watch` takes the lock to end, so an
    interrupt never outlives the statement it was meant for (one that lands just after the
    statement finished is a no-op, as with a timer)."""

    def __init__(self, interrupt: Callable[[], None]) -> None:
        self._interrupt = interrupt
        self._condition = threading.Condition()
        self._deadline: float | None = None
        self._fired: threading.Event | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="gen-model-sandbox-watchdog", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def watch(self, seconds: float) -> Iterator[threading.Event]:
        """Watch the block for `seconds`; the event is set if it was interrupted."""
        fired = threading.Event()
        with self._condition:
            self._deadline, self._fired = time.monotonic() + seconds, fired
            self._condition.notify()
        try:
            yield fired
        finally:
            with self._condition:
                self._deadline, self._fired = None, None

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._thread.join()

    def _run(self) -> None:
        with self._condition:
            while not self._closed:
                if self._deadline is None:
                    self._condition.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._condition.wait(remaining)
                    continue
                if self._fired is not None:
                    self._fired.set()
                self._deadline = None
                self._interrupt()


class Sandbox:
    """An in-memory DuckDB connection with the warehouse attached read-only and locked down.

    Use as a context manager. `database_name` must be the name dbt uses for the warehouse
    (`Relation.database`; for dbt-duckdb, the file's stem unless the profile says otherwise),
    so that views in the warehouse, which dbt-duckdb writes fully qualified, still resolve.
    `allowed_directories` are the only places a query may read files from (raw files that
    warehouse views read); relative paths in those views resolve against `base_dir`, the
    project directory, as they do when dbt runs there. `attachments` are further DuckDB
    files the profile attaches (dbt-duckdb's `attach:`), as (path, alias), also read-only.
    """

    def __init__(
        self,
        database_path: str | Path,
        database_name: str,
        allowed_directories: Sequence[str | Path] = (),
        timeout_s: float = QUERY_TIMEOUT_S,
        *,
        base_dir: str | Path | None = None,
        memory_limit: str | None = None,
        threads: int | None = None,
        max_temp_size: str | None = None,
        extensions: Sequence[str] = (),
        attachments: Sequence[tuple[str | Path, str]] = (),
        session_settings: Sequence[tuple[str, str]] = (),
    ):
        self.database_path = Path(database_path)
        self.database_name = database_name
        self.allowed_directories = tuple(Path(d) for d in allowed_directories)
        self.timeout_s = float(timeout_s)
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.memory_limit = memory_limit or default_memory_limit()
        self.threads = threads or default_threads()
        self.max_temp_size = max_temp_size or default_max_temp_size()
        self.extensions = tuple(extensions)
        self.attachments = tuple((Path(path), alias) for path, alias in attachments)
        # Settings the dbt profile gives every session and that change results (TimeZone
        # moves date_trunc on timestamptz): the dry run must see what `dbt build` will see.
        self.session_settings = tuple(
            (name, str(value)) for name, value in session_settings if name.lower() in RESULT_SETTINGS
        )
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._watchdog: _Watchdog | None = None  # started by the first statement with a limit
        self._temp_directory: str | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self.open()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            raise RuntimeError("the sandbox is not open; use it as a context manager")
        return self._connection

    def open(self) -> None:
        """Connect, attach the warehouse read-only, bound resources, then lock everything."""
        if self._connection is not None:
            return
        if "dbt.adapters.duckdb.connections" in sys.modules:
            # dbt-duckdb in this process may still hold the file; its handle would block
            # ours (DuckDB allows one per file per process).
            from generator.project.dbt import release_duckdb

            release_duckdb()
        # An unnamed in-memory database is a fresh DuckDB instance (named ones are shared
        # process-wide, configuration lock included). Its catalog is called `memory`, so it
        # is swapped for one named SANDBOX_DATABASE: a warehouse file called memory.duckdb
        # (dbt names the database after the file) must still attach under its own name.
        connection = duckdb.connect(":memory:")
        try:
            connection.execute(f"ATTACH ':memory:' AS {SANDBOX_DATABASE}")
            connection.execute(f"USE {SANDBOX_DATABASE}")
            connection.execute("DETACH memory")
            self._attach(connection)
            self._temp_directory = tempfile.mkdtemp(prefix="gen-model-sandbox-")
            statements = [
                f"SET memory_limit = {_sql_string(self.memory_limit)}",
                f"SET threads = {int(self.threads)}",
                # Spill to a private directory (removed on close), capped, instead of
                # DuckDB's default `.tmp` in whatever directory gen-model was started from.
                f"SET temp_directory = {_sql_string(self._temp_directory)}",
                f"SET max_temp_directory_size = {_sql_string(self.max_temp_size)}",
                # The result table is always read with an explicit ORDER BY; not keeping
                # insertion order lets DuckDB materialise large results with less memory.
                "SET preserve_insertion_order = false",
                # Never reach for the network to fetch an extension a query mentions.
                "SET autoinstall_known_extensions = false",
            ]
            if self.base_dir is not None:
                statements.append(f"SET file_search_path = {_sql_string(str(self.base_dir.resolve()))}")
            statements += [f"LOAD {_sql_identifier(name)}" for name in self.extensions]
            statements += [
                f"SET {_sql_identifier(name)} = {_sql_string(value)}" for name, value in self.session_settings
            ]
            allowed = ", ".join(_sql_string(d) for d in self._allowed_directory_forms())
            # The order matters: allowed_directories can only be set while external access
            # is on, and nothing at all can be changed once the configuration is locked.
            statements += [
                f"SET allowed_directories = [{allowed}]",
                "SET enable_external_access = false",
                "SET lock_configuration = true",
            ]
            for statement in statements:
                connection.execute(statement)
        except BaseException:
            connection.close()
            self._remove_temp_directory()
            raise
        self._connection = connection

    def _allowed_directory_forms(self) -> list[str]:
        """Each allowed directory, absolute, and also relative to `base_dir` when inside it.

        With `file_search_path` set, DuckDB checks a relative path (as written in a view)
        against allowed_directories and then checks the absolute path it resolves to, so
        both forms must be listed. The trailing slash keeps `data/raw` from also allowing
        `data/raw_secrets`.
        """
        forms: list[str] = []
        base = self.base_dir.resolve() if self.base_dir is not None else None
        for directory in self.allowed_directories:
            absolute = base / directory if base and not directory.is_absolute() else directory
            absolute = absolute.resolve()
            forms.append(str(absolute).rstrip("/") + "/")
            if base is not None and absolute.is_relative_to(base) and absolute != base:
                forms.append(absolute.relative_to(base).as_posix() + "/")
        return list(dict.fromkeys(forms))

    @property
    def database_names(self) -> tuple[str, ...]:
        """The names relations may live in: the warehouse's and each attachment's."""
        return (self.database_name, *(alias for _, alias in self.attachments))

    def _attach(self, connection: duckdb.DuckDBPyConnection) -> None:
        for path, alias in ((self.database_path, self.database_name), *self.attachments):
            if alias.lower() == SANDBOX_DATABASE:
                raise ConfigError(
                    f"the database name {alias!r} of {path} clashes with the sandbox's own; "
                    "rename the DuckDB file or set `database:` in profiles.yml"
                )
            path = path.resolve()
            try:
                connection.execute(f"ATTACH {_sql_string(str(path))} AS {_sql_identifier(alias)} (READ_ONLY)")
            except duckdb.Error as error:
                raise ConfigError(_attach_message(path, str(error))) from None

    def close(self) -> None:
        """Close the connection and remove the spill directory."""
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None
        if self._connection is not None:
            with contextlib.suppress(duckdb.Error):
                self._connection.close()
            self._connection = None
        self._remove_temp_directory()

    def _remove_temp_directory(self) -> None:
        if self._temp_directory is not None:
            shutil.rmtree(self._temp_directory, ignore_errors=True)
            self._temp_directory = None

    # -- running queries ---------------------------------------------------------------

    @contextlib.contextmanager
    def _deadline(self, sql: str, timeout_s: float | None) -> Iterator[None]:
        """Interrupt the connection if the block runs past `timeout_s`.

        DuckDB releases the GIL while it executes, so another thread can call `interrupt()`;
        the sandbox's one watchdog thread does (a timer thread per statement cost more than
        the small statements the gates and the hollow-test check run by the dozen).
        """
        limit = self.timeout_s if timeout_s is None else float(timeout_s)
        if self._watchdog is None:
            self._watchdog = _Watchdog(self.connection.interrupt)
        with self._watchdog.watch(limit) as fired:
            try:
                yield
            except duckdb.Error as error:
                if fired.is_set():
                    raise SandboxTimeout(limit, sql) from None
                raise SandboxQueryError(_strip_excerpt(str(error)), str(error), sql) from None

    def execute(self, sql: str, parameters: Sequence[Any] | None = None, timeout_s: float | None = None) -> list[tuple]:
        """Run one statement within the time limit and fetch all its rows.

        For SQL gen-model writes itself. Untrusted SQL goes through `materialise`, which
        admits one query only: DuckDB adds the spill directory to allowed_directories, so
        a COPY or ATTACH statement could write there (nowhere else).
        """
        with self._deadline(sql, timeout_s):
            cursor = self.connection.execute(sql, parameters)
            return cursor.fetchall() if cursor.description else []

    def describe(self, sql: str, timeout_s: float | None = None) -> tuple[tuple[str, str], ...]:
        """(name, type) of each column `sql` returns, exactly as dbt-duckdb's contract sees them.

        This is dbt's own `get_column_schema_from_query`: DESCRIBE over an empty subquery.
        """
        wrapped = f"DESCRIBE (SELECT * FROM (\n{sql}\n) AS gen_model_query WHERE false LIMIT 0)"
        rows = self.execute(wrapped, timeout_s=timeout_s)
        return tuple((row[0], row[1]) for row in rows)

    def materialise(self, sql: str, timeout_s: float | None = None) -> Materialised:
        """Run a query once, completely, into the temp table RESULT_TABLE.

        `sql` must be one query; it is wrapped in a subquery, so a second statement smuggled
        after a `;` is a syntax error rather than something that runs. DuckDB's error
        positions refer to `sql` itself (the wrapper adds exactly one line before it, which
        is taken off again).
        """
        statement = f"CREATE OR REPLACE TEMP TABLE {RESULT_TABLE} AS SELECT * FROM (\n{sql}\n) AS gen_model_query"
        started = time.perf_counter()
        try:
            self.execute(statement, timeout_s=timeout_s)
            elapsed = time.perf_counter() - started
            # The table's names, not DESCRIBE of the query: over a base table, DuckDB's
            # DESCRIBE reports `status as Status` as `status` while the rows (and the model
            # dbt builds) carry `Status`.
            columns = tuple((row[0], row[1]) for row in self.execute(f"DESCRIBE {RESULT_TABLE}"))
        except SandboxTimeout as error:
            raise SandboxTimeout(error.timeout_s, sql) from None
        except SandboxQueryError as error:
            # The wrapper puts exactly one line before the query.
            raise SandboxQueryError(error.message, _shift_excerpt(error.duckdb_message, -1), sql) from None
        row_count = self.execute(f"SELECT count(*) FROM {RESULT_TABLE}")[0][0]
        return Materialised(RESULT_TABLE, columns, int(row_count), elapsed)


# -- DuckDB's keywords (the proposal itself becomes runnable SQL in generator.sql.runnable) --


@functools.lru_cache(maxsize=1)
def reserved_words() -> frozenset[str]:
    """DuckDB's reserved keywords (lowercase): names that only work double-quoted."""
    connection = duckdb.connect(":memory:")
    try:
        rows = connection.execute(
            "select keyword_name from duckdb_keywords() where keyword_category = 'reserved'"
        ).fetchall()
    finally:
        connection.close()
    return frozenset(row[0].lower() for row in rows)


# -- DuckDB's type names -------------------------------------------------------------------

_TYPE_TOKEN = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|[A-Za-z_][A-Za-z0-9_]*|\s+|.')
_NAMED_FIELDS = ("struct", "union")


def lowercase_type(duckdb_type: str) -> str:
    """DuckDB's type name in lowercase, except what is data rather than keyword.

    `STRUCT(a INTEGER, B VARCHAR)[]` becomes `struct(a integer, B varchar)[]`: struct and
    union field names keep their case (DuckDB keeps it, and dbt-duckdb compares the
    flattened `column.field` names case-sensitively), and so do quoted names and enum
    values (`ENUM('Happy', 'sad')` is not the type `enum('happy', 'sad')`).
    """
    out: list[str] = []
    stack: list[bool] = []  # per open parenthesis: does it hold named fields?
    expect_name = False
    previous_word = ""
    for match in _TYPE_TOKEN.finditer(duckdb_type):
        token = match.group(0)
        if token.isspace():
            out.append(token)
            continue
        if token == "(":
            stack.append(previous_word.lower() in _NAMED_FIELDS)
            expect_name = stack[-1]
            out.append(token)
        elif token == ")":
            if stack:
                stack.pop()
            expect_name = False
            out.append(token)
        elif token == ",":
            expect_name = bool(stack and stack[-1])
            out.append(token)
        elif token[0] in "\"'":
            expect_name = False
            out.append(token)
        elif token[0].isalpha() or token[0] == "_":
            out.append(token if expect_name else token.lower())
            expect_name = False
        else:
            out.append(token)
        previous_word = token if token[0].isalpha() or token[0] == "_" else ""
    return "".join(out)


# -- DuckDB's messages -------------------------------------------------------------------

_EXCERPT = re.compile(r"\n*LINE (\d+): ?(.*)\n( *)(\^+)\s*$", re.S)


def _strip_excerpt(message: str) -> str:
    """DuckDB's message without the trailing `LINE n: ... ^^^` excerpt."""
    match = _EXCERPT.search(message)
    text = message[: match.start()] if match else message
    return text.strip()


def _shift_excerpt(message: str, lines: int) -> str:
    """Renumber the excerpt's line, keeping the caret under the same character."""

    def shift(match: re.Match) -> str:
        number = int(match.group(1))
        padding = len(match.group(3)) + len(str(number + lines)) - len(str(number))
        return (
            match.group(0)[: match.start(1) - match.start(0)]
            + f"{number + lines}: {match.group(2)}\n{' ' * padding}{match.group(4)}"
        )

    return _EXCERPT.sub(shift, message)


def _error_position(message: str, sql: str) -> tuple[int, int, int] | None:
    """(line, column, width) of DuckDB's caret, found in `sql` (1-based), if any.

    DuckDB shows a window of the offending line, elided with `...` when it is long, and a
    caret under it; the window is found in the real line to recover the true column.
    """
    match = _EXCERPT.search(message)
    if not match:
        return None
    line_number = int(match.group(1))
    excerpt = match.group(2)
    prefix = len(f"LINE {line_number}: ")
    caret = len(match.group(3)) - prefix
    width = len(match.group(4))
    lines = sql.split("\n")
    if not 1 <= line_number <= len(lines):
        return None
    line = lines[line_number - 1]
    visible = excerpt
    if visible.startswith("..."):
        visible = visible[3:]
        caret -= 3
    if visible.endswith("..."):
        visible = visible[:-3]
    start = line.find(visible) if visible else 0
    if start < 0 or caret < 0:
        return line_number, 1, 1
    return line_number, start + caret + 1, width


def _attach_message(path: Path, error: str) -> str:
    """What went wrong attaching the warehouse, and what to do about it."""
    lock = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", error)
    if lock:
        return (
            f"cannot open the warehouse {path} for the dry run: another process "
            f"({lock.group(1)}, PID {lock.group(2)}) has it open for writing. Close it (a "
            "running dbt, a DuckDB shell, a notebook) and run gen-model again."
        )
    if "Unique file handle conflict" in error or "already attached" in error:
        return (
            f"cannot open the warehouse {path} for the dry run: this process already has it "
            "open (dbt-duckdb keeps its handle after a run). Call "
            "generator.project.dbt.release_duckdb() before opening the sandbox."
        )
    if "does not exist" in error or not path.exists():
        return (
            f"the warehouse {path} does not exist. Build the project first (`dbt build`, or "
            "`dbt seed` and `dbt run`) so the models the proposal reads are there, or point "
            "`path:` in profiles.yml at the right file."
        )
    if "not a valid DuckDB database" in error:
        return f"{path} is not a DuckDB database file; check `path:` of the target in profiles.yml."
    return f"cannot open the warehouse {path} for the dry run: {_strip_excerpt(error)}"


def open_sandbox(catalog, timeout_s: float) -> Sandbox:
    """The sandbox on the catalog's DuckDB warehouse: read-only, no files but the raw folder."""
    if catalog.database_path is None:
        raise GenModelError("the catalog has no DuckDB warehouse to dry-run against")
    # Views over raw files (dbt-duckdb external sources) may read the project's raw folder,
    # and nothing else on disk. (Imported here: discovery brings Polars, which only this needs.)
    from generator.enrich.discovery import resolve_raw_dir

    raw = resolve_raw_dir(catalog.project_dir)
    allowed = [raw] if raw.is_dir() else []
    return Sandbox(
        catalog.database_path,
        catalog.database_name or catalog.database_path.stem,
        allowed,
        timeout_s=timeout_s,
        base_dir=catalog.project_dir,
        session_settings=catalog.session_settings,
    )

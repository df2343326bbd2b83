"""Writing into a project safely: one run at a time, atomic files, all-or-nothing.

* `ProjectLock`: a lock file created with O_EXCL; a second run fails fast with the pid that
  holds it. A lock left by a dead process is taken over (and said so).
* `FileTransaction`: every write is a temp file + fsync + rename, so no file is ever half
  written. Before touching a file, the transaction journals it (the original bytes, or "did
  not exist") under `.gen_model.journal/`. `rollback()` restores the journal; a run killed
  outright (SIGKILL, power loss) leaves the journal behind and the next run restores it
  before doing anything else.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path

from generator.errors import LockError

LOCK_NAME = ".gen_model.run.lock"
JOURNAL_NAME = ".gen_model.journal"


# Whether SIGINT/SIGTERM arrived during this command. dbt's in-process runner catches
# KeyboardInterrupt (in its worker pool's finalizers too) and may even report success, so
# the exception alone does not say whether a run was interrupted; this flag does.
_interrupt = {"received": False}


def note_interrupt() -> None:
    """Record that the user asked the run to stop (called from the signal handlers)."""
    _interrupt["received"] = True


def reset_interrupt() -> None:
    """Forget an earlier interrupt (a new command starts)."""
    _interrupt["received"] = False


def interrupt_received() -> bool:
    return _interrupt["received"]


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if an interrupt arrived, even one that something swallowed."""
    if _interrupt["received"]:
        raise KeyboardInterrupt("interrupted")


def atomic_write(path: Path, content: str | bytes) -> None:
    """Write `content` to `path` so readers see the old file or the new one, never a mix."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.gen_model.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        # Ctrl-C or a full disk mid-write: leave no stray temporary file in the project.
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ProjectLock:
    """Exclusive right to write into one project, held for the duration of a `with` block."""

    def __init__(self, project_dir: Path):
        self.path = Path(project_dir) / LOCK_NAME
        self.took_over_from: int | None = None

    def __enter__(self) -> ProjectLock:
        for _ in range(2):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder and holder.get("host") == socket.gethostname() and not _pid_alive(holder.get("pid", -1)):
                    self.took_over_from = holder.get("pid")
                    with contextlib.suppress(FileNotFoundError):
                        self.path.unlink()
                    continue
                who = f"pid {holder.get('pid')} on {holder.get('host')}" if holder else "another process"
                raise LockError(
                    f"another gen-model run ({who}) is writing to this project "
                    f"(lock file {self.path}). Wait for it to finish; if no run is active, delete "
                    "the lock file."
                ) from None
            with os.fdopen(descriptor, "w") as handle:
                json.dump({"pid": os.getpid(), "host": socket.gethostname()}, handle)
            return self
        raise LockError(f"could not take the project lock {self.path}")

    def _holder(self) -> dict | None:
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(holder, dict) or type(holder.get("pid")) is not int or holder["pid"] <= 0:
            return None  # not what __enter__ writes: treat as held by an unknown process
        return holder

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass
class FileTransaction:
    """A set of file writes under a project that commit or roll back together."""

    project_dir: Path
    entries: list[dict] = field(default_factory=list)

    @property
    def journal_dir(self) -> Path:
        return Path(self.project_dir) / JOURNAL_NAME

    def _save_journal(self) -> None:
        self.journal_dir.mkdir(exist_ok=True)
        atomic_write(self.journal_dir / "journal.json", json.dumps(self.entries, indent=2))

    def recover(self) -> list[str]:
        """Undo a transaction an earlier, killed run left behind; return the paths restored."""
        journal = self.journal_dir / "journal.json"
        if not journal.is_file():
            if self.journal_dir.exists():
                _remove_tree(self.journal_dir)
            return []
        try:
            entries = json.loads(journal.read_text(encoding="utf-8"))
        except (ValueError, RecursionError):
            entries = None
        if not isinstance(entries, list) or not all(_journal_entry_ok(entry) for entry in entries):
            # Deleting the journal would delete the only copies of what an interrupted run
            # was replacing: leave it for a person.
            raise LockError(
                f"the journal of an interrupted run ({journal}) cannot be read, so its changes cannot be undone "
                f"automatically. The original files are in {self.journal_dir}/ (*.bak, in the order written); "
                "restore them by hand (or with git), then delete that directory."
            )
        self.entries = entries
        restored = [entry["path"] for entry in self.entries]
        self.rollback()
        return restored

    def write(self, path: Path, content: str) -> None:
        """Journal `path`, then replace it atomically with `content`."""
        path = Path(path)
        relative = os.path.relpath(path, self.project_dir)
        if not any(entry["path"] == relative for entry in self.entries):
            entry: dict = {"path": relative, "backup": None, "created_dirs": _missing_dirs(path.parent)}
            if path.exists():
                backup = f"{len(self.entries)}.bak"
                self.journal_dir.mkdir(exist_ok=True)
                atomic_write(self.journal_dir / backup, path.read_bytes())
                entry["backup"] = backup
            self.entries.append(entry)
            self._save_journal()
        atomic_write(path, content)

    def rollback(self) -> None:
        """Put every journaled file back as it was; remove files this transaction created."""
        for entry in reversed(self.entries):
            target = Path(self.project_dir) / entry["path"]
            if entry["backup"]:
                atomic_write(target, (self.journal_dir / entry["backup"]).read_bytes())
            else:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
            for created in entry.get("created_dirs", []):
                with contextlib.suppress(OSError):
                    (Path(self.project_dir) / created).rmdir()
        self.entries = []
        _remove_tree(self.journal_dir)

    def commit(self) -> None:
        """Keep the writes; forget the journal. An interrupted run rolls back instead."""
        if interrupt_received():
            self.rollback()
            raise KeyboardInterrupt("interrupted before the writes were committed")
        self.entries = []
        _remove_tree(self.journal_dir)


def _inside(path: object) -> bool:
    """A relative path that stays inside the project (a journal names nothing else)."""
    return isinstance(path, str) and bool(path) and not Path(path).is_absolute() and ".." not in Path(path).parts


def _journal_entry_ok(entry: object) -> bool:
    """An entry as `FileTransaction.write` journals it; anything else is not restored blindly."""
    if not isinstance(entry, dict) or not _inside(entry.get("path")):
        return False
    backup = entry.get("backup")
    if backup is not None and not (isinstance(backup, str) and backup.endswith(".bak") and "/" not in backup):
        return False
    created = entry.get("created_dirs", [])
    return isinstance(created, list) and all(isinstance(d, str) for d in created)


def _remove_tree(directory: Path) -> None:
    if not directory.exists():
        return
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()


def _missing_dirs(directory: Path) -> list[str]:
    """Directories that do not exist yet, deepest first: rollback removes exactly these."""
    missing = []
    while not directory.exists():
        missing.append(str(directory))
        directory = directory.parent
    return missing


@contextlib.contextmanager
def interrupts_as_exceptions():
    """Turn SIGTERM into KeyboardInterrupt while writing, so rollback runs as for Ctrl-C."""

    def handler(signum, frame):  # noqa: ARG001
        note_interrupt()
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

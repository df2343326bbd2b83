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
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

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
            self.entries = json.loads(journal.read_text())
        except ValueError:
            self.entries = []
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
        """Keep the writes; forget the journal."""
        self.entries = []
        _remove_tree(self.journal_dir)


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

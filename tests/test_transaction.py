import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from generator.errors import LockError
from generator.write.transaction import (
    JOURNAL_NAME,
    LOCK_NAME,
    FileTransaction,
    ProjectLock,
    atomic_write,
)


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a" / "b.sql"
    atomic_write(target, "select 1\n")
    assert target.read_text() == "select 1\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["b.sql"]


def test_rollback_restores_edited_files_and_removes_created_ones(tmp_path):
    existing = tmp_path / "models" / "m.yml"
    atomic_write(existing, "original: true\n")
    transaction = FileTransaction(tmp_path)
    transaction.write(existing, "edited: true\n")
    created = tmp_path / "models" / "new_layer" / "x_v1.sql"
    transaction.write(created, "select 1\n")
    assert existing.read_text() == "edited: true\n"
    transaction.rollback()
    assert existing.read_text() == "original: true\n"
    assert not created.exists()
    assert not created.parent.exists(), "a directory the transaction created is removed too"
    assert not (tmp_path / JOURNAL_NAME).exists()


def test_commit_keeps_writes_and_forgets_the_journal(tmp_path):
    transaction = FileTransaction(tmp_path)
    transaction.write(tmp_path / "x.sql", "select 1\n")
    transaction.commit()
    assert (tmp_path / "x.sql").read_text() == "select 1\n"
    assert not (tmp_path / JOURNAL_NAME).exists()


def test_a_killed_run_is_undone_by_the_next_one(tmp_path):
    """SIGKILL mid-write leaves a journal; the next transaction restores the project from it."""
    existing = tmp_path / "models" / "m.yml"
    atomic_write(existing, "original: true\n")
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from generator.write.transaction import FileTransaction
        t = FileTransaction(Path({str(tmp_path)!r}))
        t.write(Path({str(existing)!r}), "half-done: true\\n")
        t.write(Path({str(tmp_path / "models" / "x_v1.sql")!r}), "select 1\\n")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd())
    assert completed.returncode == -signal.SIGKILL
    assert existing.read_text() == "half-done: true\n"
    restored = FileTransaction(tmp_path).recover()
    assert sorted(restored) == ["models/m.yml", "models/x_v1.sql"]
    assert existing.read_text() == "original: true\n"
    assert not (tmp_path / "models" / "x_v1.sql").exists()


def test_a_second_run_is_refused_while_the_lock_is_held(tmp_path):
    with ProjectLock(tmp_path):
        with pytest.raises(LockError) as raised:
            with ProjectLock(tmp_path):
                pass
        assert f"pid {os.getpid()}" in raised.value.message
        assert str(tmp_path / LOCK_NAME) in raised.value.message
        assert raised.value.exit_code == 2
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    with ProjectLock(tmp_path) as lock:
        assert lock.took_over_from == int(dead.stdout)

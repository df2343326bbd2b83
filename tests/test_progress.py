"""Progress output: a spinner on a terminal; plain lines, with a heartbeat, elsewhere."""

from __future__ import annotations

import io
import time

from generator import progress
from generator.progress import Progress


def test_a_long_step_off_a_terminal_says_it_is_still_running(monkeypatch):
    monkeypatch.setattr(progress, "HEARTBEAT_S", 0.05)
    stream = io.StringIO()
    with Progress(stream).waiting("dbt parse"):
        time.sleep(0.3)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "dbt parse ..."
    assert any(line.startswith("dbt parse: still running, ") for line in lines[1:-1])
    assert lines[-1].startswith("dbt parse: done in ")


def test_a_short_step_off_a_terminal_is_two_lines():
    stream = io.StringIO()
    with Progress(stream).waiting("gates"):
        pass
    assert stream.getvalue().splitlines()[0] == "gates ..." and len(stream.getvalue().splitlines()) == 2

"""Progress while waiting on the LLM or dbt: a spinner on a terminal, plain lines otherwise.

Everything goes to stderr, so `--json` output on stdout stays machine-readable.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import time

HEARTBEAT_S = 5.0


class Progress:
    """Reports steps; `waiting(label)` spins (TTY) or prints one line (not a TTY)."""

    def __init__(self, stream=None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def step(self, message: str) -> None:
        if self.enabled:
            print(message, file=self.stream, flush=True)

    @contextlib.contextmanager
    def waiting(self, label: str):
        """Show `label` with elapsed seconds until the block ends."""
        if not self.enabled:
            yield
            return
        started = time.monotonic()
        if not self.is_tty:
            # A log or CI has no spinner: a line every HEARTBEAT_S seconds shows a long step
            # (a cold dbt parse, a large build) is alive.
            print(f"{label} ...", file=self.stream, flush=True)
            done = threading.Event()

            def beat() -> None:
                while not done.wait(HEARTBEAT_S):
                    print(f"{label}: still running, {time.monotonic() - started:.0f}s", file=self.stream, flush=True)

            thread = threading.Thread(target=beat, daemon=True)
            thread.start()
            try:
                yield
            finally:
                done.set()
                thread.join()
                print(f"{label}: done in {time.monotonic() - started:.1f}s", file=self.stream, flush=True)
            return
        stop = threading.Event()

        def spin() -> None:
            for frame in itertools.cycle("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"):
                if stop.wait(0.1):
                    break
                elapsed = time.monotonic() - started
                self.stream.write(f"\r{frame} {label} {elapsed:5.1f}s")
                self.stream.flush()

        thread = threading.Thread(target=spin, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            elapsed = time.monotonic() - started
            self.stream.write(f"\r✓ {label} {elapsed:5.1f}s\033[K\n")
            self.stream.flush()


QUIET = Progress(enabled=False)

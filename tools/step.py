"""python3 tools/step.py LABEL -- COMMAND...: run one long set-up step and show that it moves.

Standard library only: it runs before the virtualenv exists. It prints `==> LABEL`, then,
while the command runs, a line every few seconds with the elapsed time and the command's
latest output line (so a quiet `pip install` or a long build never looks hung), and at the
end how long the step took. The command's full output is kept and printed only when it
fails, so a failure still shows everything needed to fix it. The exit code is the command's.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import deque

HEARTBEAT_SECONDS = 5.0
SHOWN_ON_FAILURE = 80


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 1 or len(argv) < 3:
        print("usage: python3 tools/step.py LABEL -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    label, command = argv[0], argv[2:]
    print(f"==> {label}", flush=True)
    began = time.monotonic()
    tail: deque[str] = deque(maxlen=SHOWN_ON_FAILURE)
    latest = [""]
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1
        )
    except OSError as error:
        print(f"    could not start {command[0]}: {error}", file=sys.stderr)
        return 127
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            line = latest[0][:100]
            print(f"    ... {time.monotonic() - began:4.0f} s  {line}", flush=True)

    ticker = threading.Thread(target=heartbeat, daemon=True)
    ticker.start()
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.rstrip()
        tail.append(line)
        if line.strip() and "is ignored: it is neither" not in line:
            latest[0] = line.strip()
    code = process.wait()
    done.set()
    ticker.join()
    seconds = time.monotonic() - began
    if code != 0:
        print("\n".join(tail), file=sys.stderr)
        print(f"    FAILED after {seconds:.0f} s (exit code {code}): {' '.join(command)}", file=sys.stderr)
        return code
    print(f"    done in {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("    interrupted", file=sys.stderr)
        sys.exit(130)

"""A CLI user in its own process, driven round by round through files (races and crashes).

    python worker.py SYNC_DIR NAME [NOW]

Imports the CLI once, writes SYNC_DIR/ready-NAME, then for k = 0, 1, 2, …: waits for
SYNC_DIR/go-k, reads SYNC_DIR/cmd-k-NAME.json (a list of {"argv": [...], "user": "..."}), runs
each through `cli.app.main` exactly as `kaizen ARGV` would (with KAIZEN_USER and KAIZEN_DB set
from the entry's "user" and "db", and the clock pinned in-process (`cli.app.set_clock`) at the
entry's "now", else NOW, when given), and writes the exit codes and
outputs to SYNC_DIR/done-k-NAME.json. A round whose command list is `null` ends the worker.
The go-file is polled every millisecond, so the workers of one round start within ~1 ms.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path


def run(argv: list[str]) -> tuple[int, str, str]:
    from cli.app import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except BaseException:  # a crash is a finding: report it with its traceback
            traceback.print_exc()
            code = -1
    return code, out.getvalue(), err.getvalue()


def main() -> int:
    sync, name = Path(sys.argv[1]), sys.argv[2]
    import cli.commands  # noqa: F401  (register every command before the first round)
    import workflow.service  # noqa: F401
    from cli.app import set_clock
    from tests.conftest import pinned_clock

    default_now = sys.argv[3] if len(sys.argv) > 3 else ""
    (sync / f"ready-{name}").touch()
    k = 0
    while True:
        go = sync / f"go-{k}"
        deadline = time.monotonic() + 120
        while not go.exists():
            if time.monotonic() > deadline:
                return 3
            time.sleep(0.001)
        cmds = json.loads((sync / f"cmd-{k}-{name}.json").read_text("utf-8"))
        if cmds is None:
            return 0
        results = []
        for c in cmds:
            os.environ["KAIZEN_USER"] = c.get("user", "admin")
            if "db" in c:
                os.environ["KAIZEN_DB"] = c["db"]
            now = c.get("now", default_now)
            set_clock(pinned_clock(now) if now else None)
            results.append(run(c["argv"]))
        tmp = sync / f"done-{k}-{name}.tmp"
        tmp.write_text(json.dumps(results, ensure_ascii=False), "utf-8")
        tmp.rename(sync / f"done-{k}-{name}.json")
        k += 1


if __name__ == "__main__":
    sys.exit(main())

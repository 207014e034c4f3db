"""Tests only: `python -m tests.pinned_cli NOW ARGS…` is `kaizen ARGS` on a clock pinned at NOW.

Production reads no variable that sets the time (issue 15). Tests that run the CLI in its own
process and need a fixed time — on PostgreSQL too, where `[clock] now` is refused — inject the
clock in-process here, as the in-process tests do with `cli.app.set_clock`. NOW is ISO 8601;
a naive value is Japan time.
"""

from __future__ import annotations

import sys

from tests.conftest import pinned_clock


def main() -> int:
    from cli.app import main as kaizen
    from cli.app import set_clock

    now, *args = sys.argv[1:]
    set_clock(pinned_clock(now))
    return kaizen(args)


if __name__ == "__main__":
    sys.exit(main())

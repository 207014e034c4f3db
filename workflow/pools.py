"""The connection pools this process opened, closed in one call when a CLI command ends.

Cheap to import on purpose: commands that never open a database (`kaizen plan`, `--help`)
must not pay for importing SQLAlchemy (~0.2 s) only to find that nothing is open.
"""

from __future__ import annotations

import sys


def close_all() -> None:
    """Close every pool `storage.db.open_database` opened in this process (none: no-op)."""
    db = sys.modules.get("storage.db")
    if db is not None:  # not imported: no database was opened
        db.dispose_all()

"""What happens to cases: the public door of the engine.

    from workflow import Kaizen, KaizenError, CaseView

`Kaizen` (the facade), its result types and the error tree are exported here; everything
else in this package is the engine's inside (see docs/architecture.md). The names are loaded
lazily (PEP 562), so `import workflow.reference` for a command that needs no database does
not pay for SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflow.errors import (
        Conflict,
        GuardFailed,
        InvalidInput,
        KaizenError,
        NotAllowed,
        NotFound,
        PermissionDenied,
        StorageError,
    )
    from workflow.moves import Moved
    from workflow.service import Kaizen
    from workflow.views import (
        Actor,
        CaseRow,
        CaseView,
        EventView,
        LenderView,
        MilestoneView,
        SubsidyLine,
        SubsidyView,
    )

_EXPORTS = {
    "Kaizen": "workflow.service",
    "Moved": "workflow.moves",
    **{
        name: "workflow.errors"
        for name in (
            "Conflict",
            "GuardFailed",
            "InvalidInput",
            "KaizenError",
            "NotAllowed",
            "NotFound",
            "PermissionDenied",
            "StorageError",
        )
    },
    **{
        name: "workflow.views"
        for name in (
            "Actor",
            "CaseRow",
            "CaseView",
            "EventView",
            "LenderView",
            "MilestoneView",
            "SubsidyLine",
            "SubsidyView",
        )
    },
}

__all__ = [
    "Actor",
    "CaseRow",
    "CaseView",
    "Conflict",
    "EventView",
    "GuardFailed",
    "InvalidInput",
    "Kaizen",
    "KaizenError",
    "LenderView",
    "MilestoneView",
    "Moved",
    "NotAllowed",
    "NotFound",
    "PermissionDenied",
    "StorageError",
    "SubsidyLine",
    "SubsidyView",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'workflow' has no attribute {name!r}")

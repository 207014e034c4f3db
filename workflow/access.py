"""Who may do what (design.md §8): officers act on their own council's cases, supervisors
also approve exceptions, admins manage councils and officers (and may act everywhere)."""

from __future__ import annotations

from workflow.errors import PermissionDenied
from workflow.views import Actor

ROLES = ("officer", "supervisor", "admin")
ROLE_LABELS = {"officer": "担当者", "supervisor": "統括責任者", "admin": "管理者"}


def can_see_council(actor: Actor, council: str) -> bool:
    return actor.role == "admin" or actor.council == council


def require_council(actor: Actor, council: str) -> None:
    """Refuse without saying whether the case exists elsewhere (callers report NotFound)."""
    if not can_see_council(actor, council):
        raise PermissionDenied(
            f"{actor.id} は協議会 {council} の案件を扱えません (所属: {actor.council or 'なし'})"
        )


def require_admin(actor: Actor, what: str) -> None:
    if actor.role != "admin":
        raise PermissionDenied(
            f"{what}は管理者 (admin) のみが行えます ({actor.id} は {ROLE_LABELS[actor.role]})"
        )


def require_supervisor(actor: Actor, council: str, what: str) -> None:
    require_council(actor, council)
    if actor.role not in ("supervisor", "admin"):
        raise PermissionDenied(
            f"{what}は統括責任者 (supervisor) のみが行えます ({actor.id} は {ROLE_LABELS[actor.role]})"
        )

"""The errors of Kaizen's use cases, each with the exit code the CLI gives it.

    KaizenError                   base: every refusal a person can cause or fix
    ├── InvalidInput        (2)   a value that cannot be right (bad date, unknown id form…)
    ├── NotFound            (3)   no such case, company, council, officer
    ├── PermissionDenied    (4)   the actor may not do this (other council, role)
    ├── NotAllowed          (5)   the trigger does not exist from the case's stage
    ├── GuardFailed         (6)   the trigger exists, but conditions are unmet (all listed)
    ├── Conflict            (7)   changed by someone else meanwhile, or a duplicate
    └── StorageError        (8)   the database is missing, locked, unreachable or corrupt

Messages are for council officers: Japanese, one line, saying what was wrong and what to do.
Nothing is written when one is raised inside a use case: the transaction is rolled back.
"""

from __future__ import annotations


class KaizenError(Exception):
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(KaizenError):
    exit_code = 2


class NotFound(KaizenError):
    exit_code = 3


class PermissionDenied(KaizenError):
    exit_code = 4


class NotAllowed(KaizenError):
    exit_code = 5


class GuardFailed(KaizenError):
    exit_code = 6

    def __init__(self, trigger: str, reasons: list[str]) -> None:
        self.trigger = trigger
        self.reasons = list(reasons)
        super().__init__(f"{trigger} できません: " + " / ".join(reasons))


class Conflict(KaizenError):
    exit_code = 7


class StorageError(KaizenError):
    exit_code = 8

"""Imports every command module so that its commands register on the app."""

from cli import (  # noqa: F401
    admin,
    calendar,
    cases,
    companies,
    maintenance,
    reference,
    reports,
    scheduling,
    today,
)
from cli.help import install

install()

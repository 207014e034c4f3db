"""Imports every command module so that its commands register on the app."""

from cli import admin, cases, companies, maintenance, reference, reports, scheduling  # noqa: F401
from cli.help import install

install()

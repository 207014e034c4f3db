"""Imports every command module so that its commands register on the app."""

from cli import admin, cases, companies, reference, reports, scheduling  # noqa: F401

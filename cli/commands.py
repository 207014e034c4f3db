"""Imports every command module so that its commands register on the app."""

from cli import admin, cases, companies, reference  # noqa: F401

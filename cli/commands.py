"""Imports every command module so that its commands register on the app."""

from cli import reference  # noqa: F401

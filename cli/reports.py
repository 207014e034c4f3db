"""Commands added by a later issue (see cli/commands.py)."""

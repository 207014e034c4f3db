"""The SQL behind reports, reminder sweeps and doctor, kept with the tables it reads.

Each function takes an open `Session` and plain values (ids, dates, rule data as tuples) and
returns plain rows or dataclasses; `workflow` asks for a result by name and keeps access
checks, labels and error wording. Nothing here imports `workflow` or `cli` (tests/test_rooms.py).
"""

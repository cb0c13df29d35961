"""Run ids: random, unguessable, and checked before any lookup."""

import re
import secrets

# What new_run_id produces, with room to spare; anything else cannot name a run.
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_run_id(value):
    return isinstance(value, str) and _RUN_ID.match(value) is not None


def new_run_id():
    """A random, unguessable id: knowing it is what grants access to a run."""
    return secrets.token_urlsafe(12)

"""Where a run came from: the optional `origin` of run:start, checked at the edge.

An origin is one of:

- ``"dashboard"`` or ``{"kind": "dashboard"}``: trained from the dashboard's builder;
- ``{"kind": "lab", "lab": SLUG, "batch": ID, "key"?: TEXT, "label"?: TEXT}``: one run of a lab's batch
  (``SLUG`` a lab that trains runs, ``ID`` the batch the lab page started, ``key``/``label`` the lab's
  own name of the run, e.g. ``"3-bn"`` / ``"Batch norm"``);
- ``{"kind": "rerun", "source": RUN_ID}``: the same config trained again from a stored run's page
  (stored with the source's name, if its config has one, so that it still reads once the source is deleted).

A run started without one (a script, or any run stored before origins existed) has no origin.
parse_origin returns the canonical dict that is stored, or raises OriginError naming the field.
"""

import re

from nnengine.labs import LABS
from nnengine.labs.experiments import LAB_RUNS

KINDS = ("dashboard", "lab", "rerun")
# Labs whose pages train stored runs (the others compute in one request and store nothing).
RUN_LABS = tuple(sorted(LAB_RUNS))
LAB_TITLES = {lab["slug"]: lab["title"] for lab in LABS}

_FIELDS = {
    "dashboard": ("kind",),
    "lab": ("kind", "lab", "batch", "key", "label"),
    "rerun": ("kind", "source"),
}
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # batch ids are made like run ids (server/runs/ids.py)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_KEY = 64
MAX_LABEL = 120


class OriginError(ValueError):
    """A bad origin; `field` is where ("origin.lab"), str() the whole message."""

    def __init__(self, field, message):
        super().__init__(f"{field} {message}")
        self.field = field
        self.message = message

    @property
    def errors(self):
        return [{"field": self.field, "message": self.message}]


def parse_origin(value, *, run_config):
    """The canonical origin of `value` (None for none), or OriginError.

    `run_config(run_id) -> dict | None` gives a stored run's config, None if there is no such run
    (it may raise StoreError, which is the caller's to report).
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value == "dashboard":
            return {"kind": "dashboard"}
        raise OriginError("origin", "as text can only be 'dashboard' (other origins are objects {kind, ...}),"
                                    f" got {value!r}")
    if not isinstance(value, dict):
        raise OriginError("origin", f"must be an object {{kind, ...}} or 'dashboard', got {type(value).__name__}")
    kind = value.get("kind")
    if kind not in KINDS:
        raise OriginError("origin.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = sorted(str(k) for k in value if k not in _FIELDS[kind])
    if unknown:
        raise OriginError(f"origin.{unknown[0]}",
                          f"is not a field of a {kind} origin (its fields: {', '.join(_FIELDS[kind])})")
    if kind == "dashboard":
        return {"kind": "dashboard"}
    if kind == "lab":
        return _lab_origin(value)
    source = value.get("source")
    if not isinstance(source, str) or not _ID.match(source):
        raise OriginError("origin.source", f"must be the id of a stored run, got {source!r}")
    config = run_config(source)
    if config is None:
        raise OriginError("origin.source", f"names no stored run ({source!r}); was it deleted?")
    origin = {"kind": "rerun", "source": source}
    name = config.get("name") if isinstance(config, dict) else None
    if isinstance(name, str) and name.strip():
        origin["source_name"] = name.strip()
    return origin


def _lab_origin(value):
    lab = value.get("lab")
    if lab not in RUN_LABS:
        raise OriginError("origin.lab",
                          f"must be one of {', '.join(RUN_LABS)} (the labs that train runs), got {lab!r}")
    batch = value.get("batch")
    if not isinstance(batch, str) or not _ID.match(batch):
        raise OriginError("origin.batch", "must be 1 to 64 letters, digits, '-' or '_' (the id of the lab's batch),"
                                          f" got {batch!r}")
    origin = {"kind": "lab", "lab": lab, "batch": batch}
    for field, longest in (("key", MAX_KEY), ("label", MAX_LABEL)):
        text = value.get(field)
        if text is None:
            continue
        if not isinstance(text, str) or not text.strip() or len(text) > longest or _CONTROL.search(text):
            shown = text if not isinstance(text, str) or len(text) <= 40 else text[:40] + "..."
            raise OriginError(f"origin.{field}", f"must be plain text of 1 to {longest} characters, got {shown!r}")
        origin[field] = text.strip()
    return origin


def origin_filter_values():
    """What GET /api/runs?origin= accepts: the kinds, 'untagged', and 'lab:SLUG' per lab."""
    return ("dashboard", "rerun", "lab", "untagged") + tuple(f"lab:{slug}" for slug in RUN_LABS)

"""Finding stored runs: the words a run is found by, and the query of GET /api/runs.

Text search ("q") matches, case-insensitively, words of the run rather than its raw JSON (where
"dropout" would match every run, each layer having a dropout of 0): its name and id; the optimizer
and its learning rate; the activations and layer types; "batch norm", "dropout" and "weight decay"
when the run uses them; the loss and the weight init; and where it came from ("dashboard", "re-run"
and the source's id, or "lab", the lab's slug and title, the lab's label and key for the run and the
batch id). Every term must match (AND); "double quotes" keep words together.
"""

import re

from .origin import LAB_TITLES, origin_filter_values

STATUSES = ("queued", "running", "done", "stopped", "diverged", "error", "interrupted")
STATUS_FILTERS = STATUSES + ("active",)  # active = queued or running
MAX_LIMIT = 1000
DEFAULT_LIMIT = 200
MAX_OFFSET = 10**9
MAX_QUERY = 200
MAX_TERMS = 10
PARAMS = ("origin", "status", "q", "batch", "source", "limit", "offset", "facets")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TERM = re.compile(r'"([^"]*)"|(\S+)')


def search_text(run_id, config, origin):
    """The lower-case words `q` is matched against (see the module's docstring)."""
    config = config if isinstance(config, dict) else {}
    words = [run_id]
    if isinstance(config.get("name"), str):
        words.append(config["name"])
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    layers = [layer for layer in model.get("hidden_layers") or [] if isinstance(layer, dict)]
    optimizer = config.get("optimizer") if isinstance(config.get("optimizer"), dict) else {}
    if optimizer.get("name"):
        words.append(str(optimizer["name"]))
        if isinstance(optimizer.get("lr"), (int, float)):
            words.append(f"lr {optimizer['lr']:g}")
    words += sorted({str(layer["activation"]) for layer in layers if layer.get("activation")})
    words += sorted({str(layer.get("type", "dense")) for layer in layers})
    if any(layer.get("batch_norm") for layer in layers):
        words.append("batch norm")
    if any(isinstance(layer.get("dropout"), (int, float)) and layer["dropout"] > 0 for layer in layers):
        words.append("dropout")
    training = config.get("training") if isinstance(config.get("training"), dict) else {}
    if isinstance(training.get("weight_decay"), (int, float)) and training["weight_decay"] > 0:
        words.append("weight decay")
    for key in ("loss", "weight_init"):
        if model.get(key):
            words.append(str(model[key]).replace("_", " "))
    words += _origin_words(origin)
    return " · ".join(words).lower()


def _origin_words(origin):
    if not origin:
        return []
    kind = origin.get("kind")
    if kind == "lab":
        lab = origin.get("lab", "")
        return ["lab", lab, LAB_TITLES.get(lab, ""), origin.get("label", ""), origin.get("key", ""),
                origin.get("batch", "")]
    if kind == "rerun":
        return ["re-run rerun", origin.get("source", "")]
    return [str(kind)]


def parse_terms(q):
    """'adam "Batch norm"' -> ['adam', 'batch norm']."""
    terms = [(quoted or bare).strip().lower() for quoted, bare in _TERM.findall(q)]
    return [t for t in terms if t]


class QueryError(ValueError):
    """A bad query parameter of GET /api/runs; str() names it, the value and what is allowed."""


def parse_list_args(args):
    """GET /api/runs's query string (a MultiDict) -> keyword arguments of Store.list_runs/count_runs,
    plus 'limit', 'offset' and 'facets'. Raises QueryError."""
    unknown = sorted(set(args) - set(PARAMS))
    if unknown:
        raise QueryError(f"unknown query parameter {unknown[0]!r}; allowed: {', '.join(PARAMS)}")
    for name in args:
        if len(args.getlist(name)) > 1:
            raise QueryError(f"{name} is given {len(args.getlist(name))} times; give it once"
                             " (origin and status take a comma-separated list)")
    out = {
        "origins": _choices(args, "origin", origin_filter_values()),
        "statuses": _statuses(args),
        "terms": _terms(args),
        "batch": _id(args, "batch"),
        "source": _id(args, "source"),
        "limit": _whole(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        "offset": _whole(args, "offset", 0, 0, MAX_OFFSET),
        "facets": _flag(args, "facets"),
    }
    return out


def _choices(args, name, allowed):
    text = args.get(name)
    if text is None or not text.strip():
        return ()
    values = [part.strip() for part in text.split(",") if part.strip()]
    for value in values:
        if value not in allowed:
            raise QueryError(f"{name} must be one of {', '.join(allowed)} (or several, comma-separated),"
                             f" got {value!r}")
    return tuple(dict.fromkeys(values))


def _statuses(args):
    chosen = _choices(args, "status", STATUS_FILTERS)
    expanded = []
    for status in chosen:
        expanded += ["queued", "running"] if status == "active" else [status]
    return tuple(dict.fromkeys(expanded))


def _terms(args):
    q = args.get("q")
    if q is None:
        return ()
    if len(q) > MAX_QUERY:
        raise QueryError(f"q must be at most {MAX_QUERY} characters, got {len(q)}")
    terms = parse_terms(q)
    if len(terms) > MAX_TERMS:
        raise QueryError(f"q may have at most {MAX_TERMS} words, got {len(terms)}")
    return tuple(terms)


def _id(args, name):
    value = args.get(name)
    if value is None or value == "":
        return None
    if not _ID.match(value):
        raise QueryError(f"{name} must be an id of 1 to 64 letters, digits, '-' or '_', got {value[:80]!r}")
    return value


def _whole(args, name, default, low, high):
    text = args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text, 10)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise QueryError(f"{name} must be a whole number from {low} to {high:,}, got {text[:40]!r}")
    return value


def _flag(args, name):
    text = args.get(name)
    if text is None or text == "":
        return False
    if text not in ("0", "1", "true", "false"):
        raise QueryError(f"{name} must be 1 or 0, got {text[:40]!r}")
    return text in ("1", "true")

"""The list query of GET /api/runs as SQLAlchemy Core expressions, the same on both databases."""

from sqlalchemy import and_, func, or_, select

from .schema import metrics, runs

LIST_COLUMNS = ("run_id", "status", "created_at", "finished_at", "summary", "config", "message", "origin")


def where(origins=(), statuses=(), terms=(), batch=None, source=None):
    """The conditions of the list filters (a list, AND'ed); each kind of filter narrows.

    origins: any of "dashboard", "rerun", "lab", "lab:SLUG", "untagged" (no origin), OR'ed.
    statuses: run statuses, OR'ed. terms: words that search_text must each contain, as text (%
    and _ are themselves), case-insensitively: search_text is stored lower-case and the terms are
    lowered here, so a plain LIKE does on both databases (PostgreSQL's is case-sensitive).
    batch: a lab batch id. source: the run whose re-runs are wanted.
    """
    kind, lab = runs.c.origin_kind, runs.c.origin_lab
    clauses = []
    if origins:
        either = []
        # "origin_lab IS NULL" is always true of these, and lets runs_origin give the runs of a
        # kind (of a status) in created_at order.
        for origin in origins:
            if origin == "untagged":
                either.append(and_(kind.is_(None), lab.is_(None)))
            elif origin == "lab":
                either.append(kind == "lab")
            elif origin.startswith("lab:"):
                either.append(and_(kind == "lab", lab == origin[len("lab:"):]))
            else:
                either.append(and_(kind == origin, lab.is_(None)))
        clauses.append(or_(*either))
    if statuses:
        clauses.append(runs.c.status.in_(list(statuses)))
    for term in terms:
        clauses.append(runs.c.search_text.contains(term.lower(), autoescape=True))
    if batch is not None:
        clauses.append(runs.c.origin_batch == batch)
    if source is not None:
        clauses.append(runs.c.origin_source == source)
    return clauses


# The parts of the list query that no filter changes, built once: an alias proxies every column of
# its table, and building two per request cost more than running the query.
_run = runs.alias("r")
_source = runs.alias("src")
_listed = (*(_run.c[name] for name in LIST_COLUMNS), _source.c.config.label("source_config"),
           select(func.max(metrics.c.epoch)).where(metrics.c.run_id == _run.c.run_id)
           .scalar_subquery().label("last_epoch"))
_newest_first = (_run.c.created_at.desc(), _run.c.seq.desc())


def list_query(clauses, limit, offset):
    """One page of runs, newest first (seq breaks ties): rows of LIST_COLUMNS, then the config of a
    re-run's source (or None) and the run's newest epoch (or None).

    The page is chosen on seqs alone (off an index where one fits), so the per-row work (last_epoch,
    the JSON columns, a re-run's source) is done for the rows of the page only, however deep it is.
    """
    page = (select(runs.c.seq).where(*clauses)
            .order_by(runs.c.created_at.desc(), runs.c.seq.desc())
            .limit(limit).offset(offset).subquery("page"))
    return (select(*_listed)
            .select_from(page.join(_run, _run.c.seq == page.c.seq)
                         .outerjoin(_source, _source.c.run_id == _run.c.origin_source))
            .order_by(*_newest_first))

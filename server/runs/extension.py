"""The app's run manager, `app.extensions["runs"]`: runs trained here, or by a cluster's workers."""


def init_app(app):
    """Its runs emit through this app's own Socket.IO server (app.extensions["socketio"]), never
    another app's. With BROKER_URL, the runs go to Celery workers (node.py,
    app.extensions["cluster"]); without it nothing of Celery is imported."""
    from .gate import PriorityGate
    from .manager import RunManager

    server = app.extensions["socketio"].server

    def emit(event, data, room):
        server.emit(event, data, to=room, namespace="/")

    backend = None
    if app.config.get("BROKER_URL"):
        from .node import ClusterNode

        node = ClusterNode(app, emit)
        app.extensions["cluster"] = node
        backend = node.backend
    app.extensions["runs"] = RunManager(
        app.extensions["store"], emit,
        max_workers=app.config["MAX_CONCURRENT_RUNS"],
        max_queued_per_client=app.config["MAX_QUEUED_PER_CLIENT"],
        gate=PriorityGate(max_pause=app.config["PRIORITY_MAX_PAUSE_S"]),
        nice=app.config["TRAINING_NICE"],
        isolation=app.config["RUN_ISOLATION"],
        backend=backend,
    )
    return app.extensions["runs"]

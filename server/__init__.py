"""The playground's web server: create_app() builds a Flask app with its own Socket.IO server.

Each part is set up by an `init_app(app)` of its own and keeps what it needs per app, in
`app.config` (server/settings.py) and `app.extensions`; nothing is shared between two apps.
"""

import os

from flask import Flask


def create_app(test_config=None):
    """The app, from `test_config` (SETTING: value), the PLAYGROUND_* environment and the defaults.

    Raises ValueError naming a setting (and its environment variable) that is wrong.
    """
    # Imported here, as in Flask's tutorial: a training process that imports server.runs
    # does not load the web side with it.
    from . import events, fairness, interactive, labs, predict, probe, retention, routes, runs, security, sockets, store
    from .settings import Settings

    settings = Settings.load(test_config)
    app = Flask(__name__, instance_relative_config=True,
                template_folder="../templates", static_folder="../static")
    app.config.from_mapping({"DATABASE": os.path.join(app.instance_path, "playground.sqlite")},
                            **settings.to_config())

    store.init_app(app)        # the run database: app.extensions["store"]
    sockets.init_app(app)      # this app's Socket.IO server: app.extensions["socketio"]
    runs.init_app(app)         # the run manager, emitting through it: app.extensions["runs"]
    fairness.init_app(app)     # start rates and queue places per address (memory, or Redis)
    retention.init_app(app)    # finished runs older than RETENTION_DAYS deleted, at start and daily
    events.init_app(app)       # run:start, run:stop, run:watch
    labs.init_app(app)         # /labs pages, /api/labs, search:*
    predict.init_app(app)      # POST /api/predict and its model cache
    probe.init_app(app)        # dreams, adversarial digits, surgery, robustness, morphing
    routes.init_app(app)       # the pages, /api/runs, JSON errors
    interactive.init_app(app)  # predictions before training, a few at a time
    security.init_app(app)     # the Host/Origin guard around all of it
    return app

"""The engine stands on its own: importing every module of nnengine loads neither the web server nor
Flask (the arrows point from the server to the engine, never back)."""
import json
import subprocess
import sys

from tests.support.paths import ROOT

IMPORT_ALL = """
import json, pkgutil, importlib, sys
import nnengine
names = sorted(m.name for m in pkgutil.walk_packages(nnengine.__path__, "nnengine."))
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(sys.modules)}))
"""


def test_the_engine_imports_neither_the_server_nor_flask():
    out = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    report = json.loads(out)
    assert {"nnengine.models", "nnengine.images.preprocess", "nnengine.labs.registry"} <= set(report["modules"])
    web = [name for name in report["loaded"]
           if name.split(".")[0] in ("server", "flask", "flask_socketio", "werkzeug", "socketio", "engineio")]
    assert web == []

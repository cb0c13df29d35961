#!/usr/bin/env bash
# Reproduce static/vendor/: the two browser libraries the dashboard loads.
# No CDN at run time: everything the pages load is served by our own Flask server.
#
#   plotly.min.js      <- the installed pip package `plotly` (plotly/package_data/plotly.min.js)
#   socket.io.min.js   <- npm package socket.io-client@4 (protocol v5, matches python-socketio 5.x)
#
# Usage: scripts/vendor_assets.sh            (from the repository root or anywhere)
#        SOCKETIO_CLIENT_VERSION=4.8.4 scripts/vendor_assets.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/static/vendor"
SIO_VERSION="${SOCKETIO_CLIENT_VERSION:-4.8.4}"
PYTHON="${PYTHON:-python}"
mkdir -p "$DEST"

# --- Plotly.js (bundled in the plotly Python package) ---------------------------------
PLOTLY_DIR="$("$PYTHON" -c 'import os, plotly; print(os.path.dirname(plotly.__file__))')"
cp "$PLOTLY_DIR/package_data/plotly.min.js" "$DEST/plotly.min.js"
LICENSE_SRC="$("$PYTHON" - <<'PY'
import glob, os, plotly
site = os.path.dirname(os.path.dirname(plotly.__file__))
hits = sorted(glob.glob(os.path.join(site, "plotly-*.dist-info", "licenses", "LICENSE*")) +
              glob.glob(os.path.join(site, "plotly-*.dist-info", "LICENSE*")))
print(hits[0] if hits else "")
PY
)"
{
  echo "plotly.min.js: $(head -n 3 "$DEST/plotly.min.js" | grep -o 'plotly.js v[0-9.]*' || true)"
  echo "Copied from the Python package plotly $("$PYTHON" -c 'import plotly; print(plotly.__version__)')"
  echo "(plotly/package_data/plotly.min.js). plotly.js is released under the MIT license:"
  echo
  if [ -n "$LICENSE_SRC" ]; then cat "$LICENSE_SRC"; else
    echo "MIT License - Copyright (c) 2012-present Plotly, Inc. See https://github.com/plotly/plotly.js/blob/master/LICENSE"
  fi
} > "$DEST/plotly.LICENSE.txt"

# --- Socket.IO JS client (npm) ---------------------------------------------------------
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
( cd "$TMP" && npm pack --silent "socket.io-client@$SIO_VERSION" >/dev/null && tar xzf socket.io-client-*.tgz )
# Drop the sourceMappingURL comment: we do not ship the .map, so no 404 when devtools are open.
grep -v '^//# sourceMappingURL=' "$TMP/package/dist/socket.io.min.js" > "$DEST/socket.io.min.js"
{
  echo "socket.io.min.js: socket.io-client v$SIO_VERSION (npm), dist/socket.io.min.js"
  echo "(sourceMappingURL comment removed). Released under the MIT license:"
  echo
  cat "$TMP/package/LICENSE"
} > "$DEST/socket.io.LICENSE.txt"

echo "vendored into $DEST:"
ls -l "$DEST"

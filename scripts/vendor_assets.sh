#!/usr/bin/env bash
# Reproduce static/vendor/: the two browser libraries the dashboard loads.
# No CDN at run time: everything the pages load is served by our own Flask server.
#
#   plotly.min.js        <- the installed pip package `plotly` (plotly/package_data/plotly.min.js), the full
#                           bundle (every trace type, 4.8 MB, ~1.7 s to evaluate on a slow machine)
#   plotly-basic.min.js  <- npm package plotly.js-basic-dist-min at the SAME plotly.js version: scatter, bar
#                           and pie only, 1.2 MB, ~0.25 s to evaluate. base.html loads this one, so the
#                           dashboard and permalinks draw fast; a page that needs contour/heatmap/histogram
#                           overrides `{% block plotly %}` with plotly.min.js.
#   socket.io.min.js     <- npm package socket.io-client@4 (protocol v5, matches python-socketio 5.x)
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

# --- Plotly.js basic bundle (npm), same version as the full bundle above ---------------
PLOTLY_JS_VERSION="$(head -n 3 "$DEST/plotly.min.js" | grep -o 'v[0-9][0-9.]*' | head -n 1 | tr -d v)"
TMP_BASIC="$(mktemp -d)"
( cd "$TMP_BASIC" && npm pack --silent "plotly.js-basic-dist-min@$PLOTLY_JS_VERSION" >/dev/null && tar xzf plotly.js-basic-dist-min-*.tgz )
cp "$TMP_BASIC/package/plotly-basic.min.js" "$DEST/plotly-basic.min.js"
{
  echo "plotly-basic.min.js: plotly.js-basic-dist-min v$PLOTLY_JS_VERSION (npm; scatter, bar and pie traces)."
  echo "Released under the MIT license:"
  echo
  cat "$TMP_BASIC/package/LICENSE"
} > "$DEST/plotly-basic.LICENSE.txt"
rm -rf "$TMP_BASIC"

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

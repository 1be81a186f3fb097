#!/usr/bin/env bash
# Installs what tests/browser needs on Debian/Ubuntu: the distribution's Chromium and Playwright
# for Python (into the active Python environment). Playwright's own browser download
# (`playwright install`) is never used: the test drives /usr/bin/chromium.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "install.sh: /usr/bin/chromium already present: $(/usr/bin/chromium --version 2>/dev/null || echo '?')"
else
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "install.sh: need root (or sudo) to apt-get install chromium" >&2; exit 1; }
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends chromium
fi

PYTHON="${PYTHON:-python}"
"$PYTHON" -m pip install --quiet playwright
"$PYTHON" -c "import playwright, importlib.metadata as m; print('install.sh: playwright', m.version('playwright'))"

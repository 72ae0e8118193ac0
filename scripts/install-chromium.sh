#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/triggers/test_ui_browser.py): Playwright drives it through
# executable_path and never downloads a browser of its own. Idempotent; a machine without apt-get is told so
# and left alone (the browser tests then skip, saying why).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: apt-get is not available; install Chromium at /usr/bin/chromium by hand to run the browser tests"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-chromium: not root and no sudo; install the 'chromium' package by hand to run the browser tests"
        exit 0
    fi
fi
echo "install-chromium: installing Debian's chromium (for the browser tests)"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium

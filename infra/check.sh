#!/usr/bin/env bash
# Static checks of the azd template: checkov over infra/ with .checkov.yaml (skips listed there with reasons).
# checkov lives in its own virtual environment (.venv-infra) so its pins never meet the app's.
# Exit status: checkov's (non-zero when a check fails), or the setup's.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
VENV="${INFRA_VENV:-.venv-infra}"
STAMP="$VENV/.installed"

if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON" >/dev/null 2>&1 || { echo "infra/check.sh: need $PYTHON on PATH (or PYTHON=...)" >&2; exit 2; }
  "$PYTHON" -m venv "$VENV"
fi
# Reinstall only when the requirements changed since the last install.
if [ ! -f "$STAMP" ] || [ requirements-infra.txt -nt "$STAMP" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
  touch "$STAMP"
fi

exec "$VENV/bin/checkov" --config-file .checkov.yaml

# Every target sets itself up: a fresh clone needs only Python 3.11 and make.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test faults fuzz lint fmt typecheck bench screenshots infra-check serve emulator clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	bash scripts/install-chromium.sh
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m bluegreen simulate

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

# Every fault at every phase (the README's table is rewritten from the run); exits 1 if any cell is unsafe.
faults: $(STAMP)
	$(PY) -m tests.faults.matrix

# The hostile-input suites with 1,000 examples a door.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=thorough $(PY) -m pytest -q tests/triggers/test_hostile_input.py tests/host/test_hostile_input.py

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy bluegreen orchestrators activities triggers

fmt: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(STAMP)
	$(PY) -m tests.bench

# The web pages' screenshots in docs/screenshots/, taken by the browser tests (docs/ui.md shows them).
screenshots: $(STAMP)
	BLUEGREEN_SCREENSHOTS=1 $(PY) -m pytest -q tests/triggers/test_ui_browser.py

# The azd template's static checks (checkov over infra/, in its own .venv-infra); tests/infra runs in make test.
infra-check:
	PYTHON=$(PYTHON) bash infra/check.sh

serve: $(STAMP)
	$(PY) -m bluegreen serve

emulator: $(STAMP)
	$(PY) -m bluegreen emulator --port 0

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

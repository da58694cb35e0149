# Two commands do everything on a fresh machine:
#   make conformance   set up, run every case on every installed framework, write reports/index.html
#   make test          set up and run the project's own tests
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
REQS   := requirements.txt $(wildcard requirements/*.txt) pyproject.toml

.PHONY: all conformance test bench lint clean setup screenshots

all: conformance

setup: $(STAMP)

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# AS_DEPLOYED=1: the frameworks' precision defaults (TF32 where the GPU has it) instead of pinned knobs.
conformance: $(STAMP)
	$(PY) -m harness run --cases cases --out reports $(if $(AS_DEPLOYED),--as-deployed) $(ARGS)

# The tests spread over one pytest-xdist worker per core, a test file per worker (its module fixtures run once);
# TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(PY) -m ruff check harness adapters tests examples conftest.py
	$(PY) -m pytest tests -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile) $(ARGS)

# Ratios of the harness's cost to the frameworks' own (overhead, oracle, suite, growth, memory); ~5 min.
bench: $(STAMP)
	$(PY) -m harness.bench $(ARGS)

# The README's pictures, docs/report.png and docs/check-report.png: a small run and check, photographed in headless
# Chromium (tests/screenshots.py); ~3 min.
screenshots: $(STAMP)
	$(PY) -m tests.screenshots $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check harness adapters tests examples conftest.py

clean:
	rm -rf $(VENV) reports/shards reports/cache reports/*.html reports/*.csv reports/*.jsonl reports/*.md

# The two commands of the README: `make demo` and `make test`. Needs Python >= 3.11 and PyPI.
#
# PYTHON: the first of python3.14 … python3.11, python3 that runs and is at least 3.11;
# override with `make demo PYTHON=/path/to/python3`.
VENV ?= .venv
BIN  := $(VENV)/bin
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in python3.14 python3.13 python3.12 python3.11 python3; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { echo "$$p"; break; }; done)
endif
SUM        := $(shell cksum < pyproject.toml | cut -d' ' -f1)
DEMO_STAMP := $(VENV)/.installed-demo-$(SUM)
TEST_STAMP := $(VENV)/.installed-test-$(SUM)

.PHONY: demo test lint clean venv

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
		echo "make: no Python 3.11 or newer found (tried python3.14 … python3.11, python3);" \
		     "install one, or pass PYTHON=/path/to/python3" >&2; exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The product alone (what `make demo` needs): no test extras.
$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.installed-demo-* && touch $(DEMO_STAMP)

# The product and the test extras (pytest, hypothesis, the official SDK, ruff, mypy, actionlint).
$(TEST_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(DEMO_STAMP) $(TEST_STAMP)

venv: $(TEST_STAMP)

demo: $(DEMO_STAMP)
	@bash examples/demo.sh $(BIN)
	@echo
	@echo "reconciler is installed in $(VENV). Run it as $(BIN)/reconciler --help, or put it"
	@echo "on your PATH in this shell with: source $(BIN)/activate"

lint: $(TEST_STAMP)
	$(BIN)/ruff check reconciler tests benchmarks
	$(BIN)/ruff format --check reconciler tests benchmarks
	$(BIN)/mypy reconciler

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .reconciler build *.egg-info

# Two commands for a newcomer: `make demo` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint typecheck unit browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/postal demo

lint: $(STAMP)
	$(BIN)/ruff check postal api maps tests
	$(BIN)/ruff format --check postal api maps tests

typecheck: $(STAMP)
	$(BIN)/mypy postal api maps

# The browser tests drive Debian's chromium (never a Playwright download); CI runs as root.
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

unit: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test: lint typecheck unit

clean:
	rm -rf $(VENV) build *.egg-info postal.db

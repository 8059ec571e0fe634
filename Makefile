# Hexavatar: `make run` starts the service on the embedded defaults, `make test` runs every test.
# Both install what they need first (`make setup`: .venv from the lock file, npm tools).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup run test lint format bench lock clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(BIN)/hexavatar serve

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy --strict src/

format: setup
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench: setup
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Re-pin every Python dependency (after changing pyproject.toml).
lock:
	rm -rf /tmp/hexavatar-lock && $(PYTHON) -m venv /tmp/hexavatar-lock
	/tmp/hexavatar-lock/bin/pip install --quiet --upgrade pip
	/tmp/hexavatar-lock/bin/pip install --quiet -e '.[dev]'
	/tmp/hexavatar-lock/bin/pip freeze --exclude-editable | grep -v '^hexavatar' > requirements.lock

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache

# Works on a machine with only python3, make and PyPI: uv is bootstrapped when missing.
SHELL := /bin/bash
UV_SYSTEM := $(shell command -v uv 2>/dev/null)
UV := $(if $(UV_SYSTEM),$(UV_SYSTEM),.bootstrap/bin/uv)
EVENTS ?=
PYTEST_ARGS ?=

.PHONY: help demo dev test test-fast test-slow lint bench bench-quick clean

help:
	@echo "make demo [EVENTS=N]  embedded stack + all services + a simulated community"
	@echo "make test             the whole suite (unit, integration, end-to-end, fault) but the slow tests"
	@echo "make test-slow        only the slow tests (the quick bench as a smoke test, ~20 min)"
	@echo "make lint             ruff + mypy"
	@echo "make bench            benchmarks -> docs/benchmarks.md"

.bootstrap/bin/uv:
	python3 -m venv .bootstrap
	.bootstrap/bin/pip install --quiet --disable-pip-version-check uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

demo: .venv/.synced
	$(UV) run modstream demo $(if $(EVENTS),--events $(EVENTS),)

dev: .venv/.synced
	$(UV) run modstream dev

test: .venv/.synced
	$(UV) run pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-fast: .venv/.synced
	$(UV) run pytest -q -m "not integration" $(PYTEST_ARGS)

# The tests marked `slow`, which `make test` skips (pyproject.toml addopts).
test-slow: .venv/.synced
	$(UV) run pytest -q -p no:cacheprovider -m slow $(PYTEST_ARGS)

lint: .venv/.synced
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy shared services tools
	$(UV) run lint-imports

bench: .venv/.synced
	$(UV) run modstream bench

bench-quick: .venv/.synced
	$(UV) run modstream bench --quick

clean:
	rm -rf .modstream test-artifacts .pytest_cache

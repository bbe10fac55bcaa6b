# mlpipe: `make run` and `make test` are the two commands; each sets up what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
LOCK      := requirements/lock.txt
STAMP     := $(VENV)/.installed
CONFIG    ?= configs/adult.yaml
CLUSTER_CONFIG ?= configs/adult-cluster.yaml
# uv from PATH, else the one `make install` puts next to the system python.
UV        := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
# The distribution's CPython 3.11 when there is one: it is built with PGO/LTO, and the
# TFMA evaluation (pure-Python per-example work) runs about 2x faster on it than on a
# build without optimizations (e.g. pyenv's default). Any Python 3.11 works.
PYTHON    ?= $(shell test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || echo 3.11)
PYTEST_ARGS ?=

.PHONY: help install lock run test test-servers lint format compile bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv with uv and install the lock plus the project (editable)

# --compile-bytecode: every stage is a fresh process importing TF/TFDV/TFMA; without .pyc
# files (e.g. PYTHONDONTWRITEBYTECODE=1 in the environment) each import compiles them again.
$(STAMP): $(LOCK) pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@test -x $(PY) || $(UV) venv --python $(PYTHON) $(VENV)
	$(UV) pip install --python $(PY) --compile-bytecode -r $(LOCK)
	$(UV) pip install --python $(PY) --no-deps -e .
	@touch $@

lock: ## Re-resolve requirements/requirements.in into the committed lock file
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) pip compile --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		requirements/requirements.in -o $(LOCK)

run: install ## Run the full training pipeline locally on the bundled Adult data
	$(VENV)/bin/mlpipe run --config $(CONFIG)

test: install test-servers ## Run the whole test suite (unit, component, compile, manifests, MinIO, API server, containers, end to end)
	$(PY) -m pytest $(PYTEST_ARGS)

test-servers: ## Build the test servers from source into ~/.cache/mlpipe (MinIO, etcd, kube-apiserver, kube-controller-manager, kubelet, kube-scheduler, KServe, TFJob and Istio CRDs, Beam's Prism runner); cached; Debian's chromium for the dashboard test
	@bash scripts/build-test-servers.sh all
	@bash scripts/install-chromium.sh >/dev/null

lint: install ## ruff check
	$(VENV)/bin/ruff check mlpipe components pipelines tests benchmarks
	$(VENV)/bin/ruff format --check mlpipe components pipelines tests benchmarks

format: install ## ruff format and autofix
	$(VENV)/bin/ruff check --fix mlpipe components pipelines tests benchmarks
	$(VENV)/bin/ruff format mlpipe components pipelines tests benchmarks

compile: install ## Compile the pipeline (config: CLUSTER_CONFIG) to build/ and each stage to components/<stage>/component.yaml
	$(VENV)/bin/mlpipe compile --config $(CLUSTER_CONFIG) --output build/training_pipeline.yaml --components

# `make bench BENCH_ROUNDS=1` for a quick check; results in build/bench/<time>/results.json.
BENCH_ROUNDS ?= 3
BENCH_ARGS ?=
bench: install ## mlpipe vs TFX 1.16 on Adult, side by side (BENCH_ROUNDS cold rounds; TFX venv in ~/.cache/mlpipe/bench)
	@bash benchmarks/tfx-env.sh
	$(PY) benchmarks/side_by_side.py --rounds $(BENCH_ROUNDS) $(BENCH_ARGS)

clean: ## Remove the venv, build outputs, local runs and the local model registry
	rm -rf $(VENV) build runs registry .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

-include make/*.mk

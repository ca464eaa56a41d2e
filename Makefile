# The two commands of the README: `make demo` and `make test`. Each installs what it needs
# (tools/bootstrap.sh, idempotent, caches under $(ECS_STATE_CACHE)), then runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export ECS_STATE_CACHE ?= $(HOME)/.cache/ecs-state
export PYTHONDONTWRITEBYTECODE := 1
# Every command below runs with the toolchain bootstrap.sh installed on PATH.
WITH_TOOLS := source "$(ECS_STATE_CACHE)/env.sh" &&
TF_DIRS := . $(wildcard examples/*)
LINT_TREE := $(ECS_STATE_CACHE)/lint/tree

.PHONY: help tools test-tools test lint unit demo bench redrive docs package mutate clean-cache

help:
	@echo "make test     install what is missing, then run every gate and test tier"
	@echo "make demo     apply examples/ec2 locally; its rule routes 600+ ECS events to its function"
	@echo "make bench    benchmark against the read-then-write baseline, and the index projections"
	@echo "make redrive  QUEUE_URL=... FUNCTION_NAME=... replays the dead-letter queue"
	@echo "make docs     regenerate the README's inputs and outputs tables"
	@echo "make package  rebuild function.zip after changing function/ (commit it too)"
	@echo "make mutate   mutation-test the handler against its fast tests (docs/mutation.md)"

tools:
	bash tools/bootstrap.sh all

# The tests also run the lowest OpenTofu and Terraform that versions.tf admits (tests/floors).
test-tools:
	bash tools/bootstrap.sh all floors

# Module and example applies mostly wait on the aws provider's SQS propagation checks
# (about 25 s per queue resource, more per deletion), so 8 processes overlap the waits on 2
# cores. --maxschedchunk=1 hands each worker one test at a time, in the order that
# tests/conftest.py gives: the long tests first, each on a worker of its own.
PYTEST_WORKERS ?= 8

# pytest ends with the time per test tier; these lines add the gates and the total.
test: test-tools
	@started=$$SECONDS; \
	$(MAKE) --no-print-directory lint; \
	linted=$$SECONDS; \
	$(WITH_TOOLS) pytest -n $(PYTEST_WORKERS) --maxschedchunk=1 --durations=12 --tf-binary="$$TOFU_BIN"; \
	echo "make test: lint $$((linted - started)) s, pytest $$((SECONDS - linted)) s, total $$((SECONDS - started)) s (tools installed before)"

lint:
	python3 -m tools.package --check
	$(WITH_TOOLS) tofu fmt -check -recursive -diff
	@# Validated in a copy: `tofu init` writes a lock file beside the configuration, and
	@# one made with a locally built provider has no place in the checkout. The zip goes
	@# too: validate hashes it.
	rm -rf "$(LINT_TREE)" && mkdir -p "$(LINT_TREE)"
	cp --parents $$(find $(TF_DIRS) -maxdepth 1 -name '*.tf') function.zip "$(LINT_TREE)/"
	$(WITH_TOOLS) for dir in $(TF_DIRS); do \
	  echo "tofu validate $$dir"; \
	  TF_DATA_DIR="$(ECS_STATE_CACHE)/tfdata/validate/$$dir" tofu -chdir="$(LINT_TREE)/$$dir" init -backend=false -input=false -no-color >/dev/null; \
	  TF_DATA_DIR="$(ECS_STATE_CACHE)/tfdata/validate/$$dir" tofu -chdir="$(LINT_TREE)/$$dir" validate -no-color; \
	  echo "tflint $$dir"; \
	  tflint --chdir="$$dir" --config="$(CURDIR)/.tflint.hcl" --no-color; \
	done
	$(WITH_TOOLS) ruff check . && ruff format --check .
	@# Strict, on the Lambda package (pyproject.toml); the boto3 stubs it checks against are
	@# in the venv only, imported under TYPE_CHECKING.
	$(WITH_TOOLS) mypy --cache-dir "$(ECS_STATE_CACHE)/mypy"
	$(WITH_TOOLS) checkov --directory . --framework terraform --quiet --compact --skip-download \
	  --skip-path examples --skip-path tests
	$(WITH_TOOLS) terraform-docs --output-check .

# ARGS=--verbose also lists every resource; ARGS=--help says what else.
demo: tools
	$(WITH_TOOLS) PYTHONPATH=function python -m scripts.demo $(ARGS)

# bench.run records its commit and handler settings in docs/benchmarks/results.json;
# tests/bench/test_results.py fails once the code's settings differ from them.
bench: tools
	$(WITH_TOOLS) python -m bench.run
	$(WITH_TOOLS) python -m bench.projection
	$(WITH_TOOLS) python -m bench.reconcile
	$(WITH_TOOLS) python -m bench.rie_overhead

redrive:
	bash tools/bootstrap.sh venv
	@test -n "$(QUEUE_URL)" && test -n "$(FUNCTION_NAME)" || \
	  { echo "usage: make redrive QUEUE_URL=<dead-letter queue URL> FUNCTION_NAME=<function>"; exit 2; }
	$(WITH_TOOLS) python -m scripts.redrive --queue-url "$(QUEUE_URL)" --function-name "$(FUNCTION_NAME)"

docs: tools
	$(WITH_TOOLS) terraform-docs .

# Standard library only, so it needs no bootstrap.
package:
	python3 -m tools.package

# Not part of `make test`: about 9 minutes on 2 cores. mutmut runs in a copy of the project
# under $(ECS_STATE_CACHE)/mutate; only docs/mutation.md is written here.
mutate:
	bash tools/bootstrap.sh venv mutate
	$(WITH_TOOLS) python -m tools.mutate

clean-cache:
	rm -rf "$(ECS_STATE_CACHE)"

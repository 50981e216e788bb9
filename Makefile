# SyncHub developer commands. `make run` and `make test` bootstrap their own virtualenv.
SHELL := /bin/bash
# Python 3.13, the functions' runtime: a python3.13 on PATH that runs (pyenv's shim may not), else pyenv's newest
ifeq ($(origin PYTHON), undefined)
PYTHON := $(shell for p in $$(command -v python3.13) $$(ls -d $(HOME)/.pyenv/versions/3.13.*/bin/python3.13 2>/dev/null | sort -rV); do $$p -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { echo $$p; break; }; done)
endif
NEED_PYTHON = @test -n "$(PYTHON)" || { echo "SyncHub needs Python 3.13: install python3.13 (Debian 13: apt-get install python3.13; elsewhere: pyenv install 3.13), then run make again" >&2; exit 1; }
# a virtualenv of another Python (an older checkout's 3.11) is made again
FRESH_VENV = $(1)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { rm -rf $(1) && $(PYTHON) -m venv $(1); }
VENV := .venv
TOOLS := .venv-tools
SCAN := .venv-checkov
PORT ?= 8080
STATE ?= .local-state
ARGS ?=
PYTEST_ARGS ?= -n auto
export SAM_CLI_TELEMETRY := 0
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

## help: this list
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST) | awk '{name = $$1; sub(/:$$/, "", name); $$1 = ""; printf "  make %-12s%s\n", name, $$0}'

.PHONY: help venv tools scan-tools run test lint invoke bench openapi api-check validate deploy-check scan build ci clean

$(VENV)/.installed-3.13: requirements-dev.txt layers/synchub/requirements.txt layers/lake/requirements.txt pyproject.toml
	$(NEED_PYTHON)
	$(call FRESH_VENV,$(VENV))
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	# the layer's package on the virtualenv's path, as Lambda mounts it (lint-imports finds it there)
	echo "$(CURDIR)/layers/synchub" > "$$($(VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/synchub-layer.pth"
	touch $@

$(TOOLS)/.installed-3.13: requirements-tools.txt
	$(NEED_PYTHON)
	$(call FRESH_VENV,$(TOOLS))
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

$(SCAN)/.installed-3.13: requirements-scan.txt
	$(NEED_PYTHON)
	$(call FRESH_VENV,$(SCAN))
	$(SCAN)/bin/pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	touch $@

venv: $(VENV)/.installed-3.13
tools: $(TOOLS)/.installed-3.13
scan-tools: $(SCAN)/.installed-3.13

## run: the whole service locally on http://127.0.0.1:$(PORT), state kept in $(STATE)/ (ARGS=--fresh starts empty, ARGS=--no-engine keeps tasks pending)
run: venv
	$(VENV)/bin/python -m local --port $(PORT) --state-dir $(STATE) $(ARGS)

## test: unit, functional and e2e tests
test: venv
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

## lint: imports point one way down the layers (import-linter), ruff's lint and format, mypy on the layer package
lint: venv
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## invoke: one function, once, with an event file: make invoke FUNCTION=CreateTaskFunction EVENT=events/create_task.json
invoke: venv
	$(VENV)/bin/python -m local.invoke $(FUNCTION) $(EVENT)

## bench: benchmarks beside same-run baselines; writes bench/results.json (ARGS=--smoke for a quick check)
bench: venv
	$(VENV)/bin/python -m bench.run $(ARGS)

## openapi: regenerate the OpenAPI document from the code (layers/synchub/synchub/api/openapi.json)
openapi: venv
	$(VENV)/bin/python -m local.openapi

## api-check: schemathesis against the local stack's OpenAPI document (EXAMPLES=20 cases per operation)
api-check: venv
	bash .ci/api-check

## validate: sam validate --lint and cfn-lint on template.yaml
validate: tools
	AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=dummy AWS_SECRET_ACCESS_KEY=dummy $(TOOLS)/bin/sam validate --lint
	$(TOOLS)/bin/cfn-lint template.yaml

## deploy-check: the template as CloudFormation deploys it (resources per type) and AWS's create-time rules
deploy-check: tools
	AWS_DEFAULT_REGION=us-east-1 $(TOOLS)/bin/python -m tests.deploy
	AWS_DEFAULT_REGION=us-east-1 $(TOOLS)/bin/python -m pytest --confcutdir=tests/deploy tests/deploy

## scan: cfn-lint with the serverless rules, and checkov (suppressions and reasons: template.yaml Metadata)
scan: venv tools scan-tools
	bash .ci/scan

## build: sam build (arm64 layers with the pinned dependencies, bytecode compiled by Python 3.13), then the layers' bytecode and each function's size (250 MB; pyarrow only where tables are)
build: tools venv
	PATH="$(dir $(PYTHON)):$$PATH" AWS_DEFAULT_REGION=us-east-1 $(TOOLS)/bin/sam build
	$(PYTHON) -m tests.deploy.layer_bytecode .aws-sam/build/SyncHubLayer/python
	$(PYTHON) -m tests.deploy.layer_bytecode .aws-sam/build/LakeLayer/python
	$(VENV)/bin/python -m tests.deploy.function_sizes .aws-sam/build

ci:
	bash .ci/run

clean:
	rm -rf .aws-sam .pytest_cache

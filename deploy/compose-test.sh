#!/usr/bin/env bash
# `make test-compose`: the integration and end-to-end tests against a throwaway compose stack.
#
# The stack runs as its own compose project (dossier-test) on free host ports, so it neither
# clashes with `make up` nor touches its volumes, and is removed with its volumes at the end.
# The tests are the same ones `make test` runs: their fixtures use DATABASE_URL and
# KAFKA_BOOTSTRAP_SERVERS instead of starting embedded servers, and each test makes its own
# schema and topics. The e2e tests talk to the stack's services through E2E_<SERVICE>_URL.
#
#   deploy/compose-test.sh [pytest arguments]      KEEP_STACK=1 leaves the stack running
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
PYTEST=${PYTEST:-.venv/bin/pytest}
PROJECT=${COMPOSE_TEST_PROJECT:-dossier-test}
ENV_FILE=deploy/.env
[[ -f $ENV_FILE ]] || ENV_FILE=deploy/.env.example # a throwaway stack may use the example passwords

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

export PUBLISH_ADDRESS=127.0.0.1 KAFKA_EXTERNAL_HOST=127.0.0.1
# The province the e2e tests check issued numbers against (tests/e2e/api.py), whatever deploy/.env says.
export PROVINCE_CODE=036
for variable in POSTGRES_HOST_PORT KAFKA_HOST_PORT INTAKE_HOST_PORT WORKFLOW_HOST_PORT REGISTRY_SYNC_HOST_PORT \
  REPORTING_HOST_PORT REGISTRY_SIM_HOST_PORT PROMETHEUS_HOST_PORT; do
  export "$variable=$(free_port)"
done

# Officials sign in with a throwaway identity provider stand-in: its public keys are mounted into
# every service (each reads AUTH_JWKS at start-up, and one it cannot read stops it), and the e2e
# tests make their tokens with its private key (E2E_IDENTITY_DIR).
work_dir=$(mktemp -d)
"$PYTHON" -m devstack identity --run-dir "$work_dir" >/dev/null
export E2E_IDENTITY_DIR="$work_dir/identity"
export AUTH_JWKS=/run/identity/jwks.json
AUTH_ISSUER=$("$PYTHON" -c 'from devstack.identity import ISSUER; print(ISSUER)')
export AUTH_ISSUER
{
  echo "services:"
  for service in intake workflow registry-sync reporting; do
    printf '  %s:\n    volumes:\n      - %s:/run/identity/jwks.json:ro\n' "$service" "$E2E_IDENTITY_DIR/jwks.json"
  done
} >"$work_dir/identity.override.yml"
chmod a+r "$E2E_IDENTITY_DIR/jwks.json"

compose=(docker compose --project-name "$PROJECT" --project-directory deploy -f deploy/docker-compose.yml
  -f "$work_dir/identity.override.yml" --env-file "$ENV_FILE")

cleanup() {
  if [[ ${KEEP_STACK:-0} == 1 ]]; then
    echo "stack left running: ${compose[*]} down --volumes"
  else
    "${compose[@]}" down --volumes --remove-orphans
    rm -rf "$work_dir"
  fi
}
trap cleanup EXIT

"${compose[@]}" up --build --detach --wait --wait-timeout 600

# The tests create and drop schemas of their own: give them a database of their own, as the superuser.
"${compose[@]}" exec -T postgres sh -c 'createdb --username=postgres dossier_tests 2>/dev/null || true'
postgres_password=${POSTGRES_PASSWORD:-$(sed -n 's/^POSTGRES_PASSWORD=//p' "$ENV_FILE" | tail -n 1)}

export DATABASE_URL="postgresql+asyncpg://postgres:${postgres_password}@127.0.0.1:${POSTGRES_HOST_PORT}/dossier_tests"
export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:${KAFKA_HOST_PORT}"
export E2E_INTAKE_URL="http://127.0.0.1:${INTAKE_HOST_PORT}"
export E2E_WORKFLOW_URL="http://127.0.0.1:${WORKFLOW_HOST_PORT}"
export E2E_REGISTRY_SYNC_URL="http://127.0.0.1:${REGISTRY_SYNC_HOST_PORT}"
export E2E_REPORTING_URL="http://127.0.0.1:${REPORTING_HOST_PORT}"
export E2E_REGISTRY_SIMULATOR_URL="http://127.0.0.1:${REGISTRY_SIM_HOST_PORT}"

suites=(tests/integration)
# Without those URLs the e2e fixture starts its own service processes, which would join the
# stack's consumer groups on the stack's topics: run e2e only once the fixture reads them.
if grep -q "E2E_" tests/e2e/conftest.py; then
  suites+=(tests/e2e)
else
  echo "tests/e2e/conftest.py does not read E2E_<SERVICE>_URL yet: e2e tests skipped" >&2
fi
"$PYTEST" "${suites[@]}" "$@"

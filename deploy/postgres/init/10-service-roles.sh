#!/usr/bin/env bash
# One login role per service, owning one schema of the same name and nothing else: a service
# cannot read another's tables (ARCHITECTURE: a service never reads another's database).
#
# The official postgres image runs this once, when it initialises an empty data volume, as the
# superuser, with the container's environment:
#   SERVICE_SCHEMAS            space-separated schema (= role) names, e.g. "intake workflow"
#   <SCHEMA>_DB_PASSWORD       each role's password, e.g. INTAKE_DB_PASSWORD (never in a file)
#   POSTGRES_USER, POSTGRES_DB the superuser and the database, set by the image
# To add a service to an existing volume, run the same statements by hand (see deploy/README.md).
set -euo pipefail

: "${SERVICE_SCHEMAS:?SERVICE_SCHEMAS must list the service schemas}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SQL

for schema in $SERVICE_SCHEMAS; do
  if [[ ! "$schema" =~ ^[a-z_][a-z0-9_]*$ ]]; then
    echo "invalid schema name: $schema" >&2
    exit 1
  fi
  password_variable="$(tr '[:lower:]' '[:upper:]' <<<"$schema")_DB_PASSWORD"
  password="${!password_variable:-}"
  if [[ -z "$password" ]]; then
    echo "$password_variable must be set" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=role="$schema" --set=password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
-- CREATE: the runtime runs CREATE SCHEMA IF NOT EXISTS at start-up, which PostgreSQL checks
-- against the database even when the schema exists. It lets a role make new schemas, never
-- read another role's: those grant nothing to anyone but their owner.
GRANT CONNECT, TEMPORARY, CREATE ON DATABASE :"DBNAME" TO :"role";
CREATE SCHEMA :"role" AUTHORIZATION :"role";
ALTER ROLE :"role" SET search_path = :"role";
SQL
  echo "role and schema $schema ready"
done

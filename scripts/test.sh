#!/usr/bin/env bash
# Runs every check chatrelay has: provisioning, typecheck, lint, unit, workflow, replay and
# end-to-end tests. On a fresh machine it installs what it needs first (see scripts/provision.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/provision.sh
echo "== typecheck"
npx tsc --noEmit -p tsconfig.json
npx tsc --noEmit -p web/tsconfig.json
echo "== lint"
npx eslint --max-warnings 0 .
echo "== format"
npx prettier --check --log-level warn .
echo "== tests"
node scripts/run-tests.mjs "$@"

#!/usr/bin/env bash
# Starts the whole local stack (see README): installs what is missing, then runs the launcher.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/provision.sh
exec node --import tsx src/stack/main.ts

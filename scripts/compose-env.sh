#!/usr/bin/env bash
# Writes the env file docker-compose.yml reads (.env next to it, git-ignored; or the path given)
# with a generated value for every secret it lacks: the admin, codec and metrics tokens, the
# secrets key, and the database passwords and MongoDB's replica-set key. Idempotent: a variable
# already in the file is never changed, so running it again adds only what a newer compose file
# needs. OPENAI_API_KEY and PUBLIC_BASE_URL are yours: they are added empty, and `docker compose`
# refuses to start until they are set. The file is readable by its owner only.
#
#   ./scripts/compose-env.sh            # .env
#   ./scripts/compose-env.sh other.env
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
file=${1:-$root/.env}
umask 077

command -v openssl >/dev/null || {
  echo "compose-env: openssl is needed to generate the secrets" >&2
  exit 1
}

hex() { openssl rand -hex "$1"; }
# MongoDB's key file: base64, at most 1024 characters, on one line.
replica_key() { openssl rand -base64 756 | tr -d '\n'; }

touch "$file"
chmod 600 "$file"

has() { grep -Eq "^[[:space:]]*(export[[:space:]]+)?$1=" "$file"; }
added=()
add() {
  local name=$1 value=$2
  if has "$name"; then return; fi
  # A file that does not end in a newline gets one first, so the new line stands on its own.
  if [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ]; then printf '\n' >>"$file"; fi
  printf '%s=%s\n' "$name" "$value" >>"$file"
  added+=("$name")
}

# Passwords in hex: they go into MONGODB_URI as they are, with nothing to escape.
add ADMIN_TOKEN "$(hex 32)"
add CODEC_TOKEN "$(hex 32)"
add METRICS_TOKEN "$(hex 24)"
add SECRETS_ENCRYPTION_KEY "$(openssl rand -base64 32)"
add MONGODB_ROOT_PASSWORD "$(hex 24)"
add MONGODB_APP_PASSWORD "$(hex 24)"
add MONGODB_REPLICA_KEY "$(replica_key)"
add POSTGRES_PASSWORD "$(hex 24)"
add OPENAI_API_KEY ""
add PUBLIC_BASE_URL ""

if [ ${#added[@]} -eq 0 ]; then
  echo "compose-env: $file already has every variable; nothing changed"
else
  echo "compose-env: added to $file: ${added[*]}"
fi
for name in OPENAI_API_KEY PUBLIC_BASE_URL; do
  if grep -Eq "^[[:space:]]*(export[[:space:]]+)?$name=[[:space:]]*$" "$file"; then
    echo "compose-env: set $name in $file before docker compose up"
  fi
done

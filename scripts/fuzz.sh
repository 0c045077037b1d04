#!/usr/bin/env bash
# Fuzzes the HTTP API from its own OpenAPI document with schemathesis (PyPI), pinned, in a venv
# under .tools/. Starts a throwaway local stack (its own ports and data folder), creates an agent
# and a channel, then runs two passes: the admin API with the admin token, and the inbound webhook
# (plus health, media, metrics and the document) with the channel's token. Exit 0: no failure.
#   ./scripts/fuzz.sh [max examples per operation, default 50]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SCHEMATHESIS_VERSION=4.32.5
examples=${1:-50}
bash scripts/provision.sh
venv=.tools/schemathesis-$SCHEMATHESIS_VERSION
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin=fuzz-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
channel_token=fuzz-channel-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
STACK_DATA_DIR=$data PORT=$port STACK_TEMPORAL_PORT=$(free) STACK_TEMPORAL_UI_PORT=$(free) STACK_MONGODB_PORT=$(free) \
  ADMIN_TOKEN=$admin LOG_LEVEL=warn RATE_LIMIT_CHANNEL_PER_MINUTE=0 RATE_LIMIT_CLIENT_PER_MINUTE=0 RATE_LIMIT_FAILURES_PER_MINUTE=0 RATE_LIMIT_ADMIN_FAILURES_PER_MINUTE=0 \
  node --import tsx src/stack/main.ts >"$data/stack.log" 2>&1 &
stack=$!
trap 'kill -TERM $stack 2>/dev/null; wait $stack 2>/dev/null; rm -rf "$data"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 1 120); do curl -sf "$base/readyz" >/dev/null && break; sleep 1; done
auth="Authorization: Bearer $admin"
agent=$(curl -sf -X POST "$base/v1/agents" -H "$auth" -H 'content-type: application/json' -d '{"name":"fuzz","system_prompt":""}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -sf -X POST "$base/v1/channels" -H "$auth" -H 'content-type: application/json' \
  -d "{\"agent_id\":\"$agent\",\"page_id\":\"fuzz-page\",\"reply_webhook_url\":\"http://127.0.0.1:9/replies\",\"api_token\":\"$channel_token\"}" >/dev/null

st="$venv/bin/schemathesis"
status=0
echo "== admin API"
"$st" run "$base/openapi.json" -H "$auth" --include-path-regex '^/v1' --checks all --max-examples "$examples" --no-color || status=1
echo "== inbound webhook, health, media, metrics, document"
"$st" run "$base/openapi.json" -H "X-Api-Token: $channel_token" --include-path-regex '^/(webhook|healthz|readyz|openapi|media|metrics)' \
  --checks all --max-examples "$examples" --no-color || status=1
exit $status

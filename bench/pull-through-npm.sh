#!/usr/bin/env bash
# Benchmark (not a test): `npm ci` with a cold npm cache through a warm `lading serve`
# pull-through of the public npm registry vs `npm ci` with a cold npm cache directly against
# the registry, for the ~490-package lockfile of bench/npm-fixture.sh (issue 16, part 4;
# target: 2x faster, and no upstream request at all during the warm runs).
#
# lading serve starts on an empty data directory with `--upstream npm=PUBLIC_REGISTRY`; one
# untimed `npm ci` through it pulls every package through (that is what "warm" means: lading
# holds the tarballs and the packuments' metadata). Then, RUNS times each: `npm ci` directly,
# and `npm ci` through lading, each with an empty npm cache and no node_modules. lading logs
# every request it makes to an upstream (`LADING_LOG=...upstream=debug`); the script counts
# them during the timed runs through lading.
#
# The ceiling: a third column runs the same `npm ci` against nginx serving the lockfile's
# tarballs as static files from local disk (the lockfile's `resolved` URLs rewritten to it),
# the fastest any registry on this machine can answer. Whatever npm does itself (fetching
# into its cache, integrity, extraction, linking) is in every column, so `direct / nginx`
# bounds what any server, lading's included, can give `npm ci`.
#
#   bash bench/pull-through-npm.sh [target/release/lading]
#
# Environment: RUNS (default 3; each figure is the best of them), PUBLIC_REGISTRY (default
# https://registry.npmjs.org/), NPM_BENCH_DEPS and NPM_BENCH_FIXTURE (see
# bench/restore-npm-large.sh; only the fixture's lockfile is used here).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
VERDACCIO=$PEERS/node/node_modules/.bin/verdaccio
AWS=$PEERS/venv/bin/aws
RUNS=${RUNS:-3}
PUBLIC_REGISTRY=${PUBLIC_REGISTRY:-https://registry.npmjs.org/}
NPM_BENCH_DEPS=${NPM_BENCH_DEPS:-'{"express":"4.21.2","eslint":"8.57.1","@babel/core":"7.26.0","jest":"29.7.0","webpack":"5.97.1","mocha":"10.8.2"}'}
[ -x "$AWS" ] || { echo "run .ci/install-peers first" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_lading "$@"
bench_work
# shellcheck source=bench/npm-fixture.sh
. "$ROOT/bench/npm-fixture.sh"
LOCK=$FIXTURE/resolve/package-lock.json
ENTRIES=$(node -e 'const l=require(process.argv[1]);console.log(Object.keys(l.packages).filter(p=>p).length)' "$LOCK")

port=$(free_port)
LADING_LOG='lading::server::upstream=debug,warn' \
  "$LADING" serve --data "$WORK/lading-serve" --listen "127.0.0.1:$port" \
  --upstream "npm=$PUBLIC_REGISTRY" 2>"$WORK/lading-serve.log" &
PIDS+=($!)
until curl -fs "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.1; done
TOKEN=$(AWS_SHARED_CREDENTIALS_FILE=$WORK/lading-serve/credentials AWS_CONFIG_FILE=/dev/null \
  "$AWS" codeartifact get-authorization-token --domain local --endpoint-url "http://127.0.0.1:$port" \
  --region us-east-1 --query authorizationToken --output text)
URL=http://127.0.0.1:$port/d/local/npm/main/
printf 'registry=%s\n//%s:_authToken=%s\n' "$URL" "${URL#http://}" "$TOKEN" >"$WORK/lading.npmrc"
printf 'registry=%s\n' "$PUBLIC_REGISTRY" >"$WORK/direct.npmrc"
upstream_requests() { grep -c 'upstream request' "$WORK/lading-serve.log" || true; }

# The ceiling: nginx serving the fixture's tarballs from disk.
nport=$(free_port)
cat >"$WORK/nginx.conf" <<NGINX
daemon off; worker_processes 2; pid $WORK/nginx.pid; error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nodelay on; keepalive_requests 10000;
  server { listen 127.0.0.1:$nport; root $FIXTURE/tarballs; } }
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
until curl -fs -o /dev/null "http://127.0.0.1:$nport/$(head -n1 "$FIXTURE/urls.txt" | cut -d' ' -f2)"; do sleep 0.1; done
mkdir -p "$WORK/nginx-lock"
node -e '
const fs = require("fs"); const lock = require(process.argv[1]); const files = new Map();
for (const line of fs.readFileSync(process.argv[2], "utf8").trim().split("\n")) {
  const [url, file] = line.split(" "); files.set(url, file);
}
for (const entry of Object.values(lock.packages))
  if (entry.resolved && files.has(entry.resolved)) entry.resolved = process.argv[3] + files.get(entry.resolved);
fs.writeFileSync(process.argv[4], JSON.stringify(lock, null, 2));' \
  "$LOCK" "$FIXTURE/urls.txt" "http://127.0.0.1:$nport/" "$WORK/nginx-lock/package-lock.json"
printf 'registry=http://127.0.0.1:%s/\n' "$nport" >"$WORK/nginx.npmrc"

P=$WORK/p
mkdir -p "$P/home" "$P/project"
export HOME=$P/home
cp "$FIXTURE/resolve/package.json" "$LOCK" "$P/project/"
cd "$P/project"
# npm ci with a cold npm cache (CACHE) and the registry config NPMRC.
npm_ci() {
  NPM_CONFIG_USERCONFIG=$2 npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier --cache "$1"
}

log "warming lading: npm ci through it pulls $ENTRIES lockfile entries through"
timed cold_lading npm_ci "$WORK/cache-warmup" "$WORK/lading.npmrc"
discard node_modules
warm_requests=0
for run in $(seq "$RUNS"); do
  log "run $run/$RUNS: npm ci directly, then through warm lading"
  timed t npm_ci "$WORK/cache-direct-$run" "$WORK/direct.npmrc"
  best direct "$t"
  discard node_modules
  before=$(upstream_requests)
  timed t npm_ci "$WORK/cache-lading-$run" "$WORK/lading.npmrc"
  best lading "$t"
  warm_requests=$((warm_requests + $(upstream_requests) - before))
  discard node_modules
  cp "$WORK/nginx-lock/package-lock.json" package-lock.json
  timed t npm_ci "$WORK/cache-nginx-$run" "$WORK/nginx.npmrc"
  best nginx "$t"
  cp "$LOCK" package-lock.json
  discard node_modules
done

printf 'npm ci, cold npm cache, %s lockfile entries (%s), best of %s, %s\n' "$ENTRIES" "$NPM_BENCH_DEPS" "$RUNS" "$LADING"
printf '  directly against %s: %s s\n' "$PUBLIC_REGISTRY" "$direct"
printf '  through lading serve, cold (first pull-through, untimed figure): %s s\n' "$cold_lading"
printf '  through lading serve, warm: %s s: %sx (target 2x)\n' "$lading" "$(ratio "$direct" "$lading")"
printf '  ceiling: nginx serving the tarballs from local disk: %s s: %sx (what any registry can give npm ci here)\n' \
  "$nginx" "$(ratio "$direct" "$nginx")"
printf '  upstream requests lading made during the %s warm runs: %s (target 0); during warm-up: %s\n' \
  "$RUNS" "$warm_requests" "$(($(upstream_requests) - warm_requests))"

#!/usr/bin/env bash
# Benchmark (not a test): `lading restore` against npm's own fetching for a lockfile of about
# 490 real packages (express, eslint, @babel/core, jest, webpack, mocha and their trees),
# served by Verdaccio and by `lading serve` in turn, on loopback and through
# bench/latency-proxy.py (which adds LATENCY_MS to every request). For each server it prints:
#   - `lading restore` into a cold cache vs npm's fetch share (`npm ci` with a cold cache minus
#     `npm ci --offline` with the cache that run left; target: lading 3x faster);
#   - `lading restore` + `npm ci --offline` vs `npm ci`, cold caches (target: faster);
#   - the same through the latency proxy (target: 2x);
#   - a second `lading restore` with a warm store and an empty npm cache (target < 0.3 s);
#   - peak RSS of the cold `lading restore` (/usr/bin/time -v; target < 100 MB).
#
# The packages are downloaded from registry.npmjs.org once into
# ${LADING_PEERS_DIR:-.peers}/npm-bench-fixture (keyed by NPM_BENCH_DEPS; about 30 s), then
# published into each server. Only this script uses that fixture.
#
#   bash bench/restore-npm-large.sh [target/release/lading]
#   SERVERS=lading LATENCY_MS=50 NPM_BENCH_DEPS='{"express":"4.21.2"}' bash bench/restore-npm-large.sh
#
# Environment: SERVERS (default "verdaccio lading"), LATENCY_MS (default 50; 0 skips the proxy
# runs), NPM_BENCH_DEPS (JSON dependencies of the project; a smaller set validates quickly),
# NPM_BENCH_FIXTURE (where the fixture is kept), JOBS (lading restore --jobs, default lading's),
# RUNS (default 3; each figure is the best of them).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
VERDACCIO=$PEERS/node/node_modules/.bin/verdaccio
AWS=$PEERS/venv/bin/aws
SERVERS=${SERVERS:-verdaccio lading}
LATENCY_MS=${LATENCY_MS:-50}
RUNS=${RUNS:-3}
NPM_BENCH_DEPS=${NPM_BENCH_DEPS:-'{"express":"4.21.2","eslint":"8.57.1","@babel/core":"7.26.0","jest":"29.7.0","webpack":"5.97.1","mocha":"10.8.2"}'}
[ -x "$VERDACCIO" ] && [ -x "$AWS" ] || { echo "run .ci/install-peers first" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_lading "$@"
bench_work

# The fixture, publishing, and the servers.
# shellcheck source=bench/npm-fixture.sh
. "$ROOT/bench/npm-fixture.sh"

npm_ci() { npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier --cache "$@"; }
# restore LADING_CACHE NPM_CACHE REGISTRY: a cold or warm `lading restore`, under /usr/bin/time.
restore() {
  LADING_CACHE_DIR=$1 NPM_TOKEN=$TOKEN /usr/bin/time -v -o "$WORK/time.txt" \
    "$LADING" -q restore --npm-cache "$2" --registry-url "$3" --token-env NPM_TOKEN "${JOBS_ARGS[@]}"
}

printf 'lading restore vs npm, %s packages (%s), release build, LATENCY_MS=%s\n' "$COUNT" "$NPM_BENCH_DEPS" "$LATENCY_MS"
for server in $SERVERS; do
  discard "$WORK/lading-serve" "$WORK/verdaccio" "$WORK/p"
  "start_$server"
  log "$server: publishing $COUNT packages"
  publish "$URL" "$TOKEN"
  P=$WORK/p
  mkdir -p "$P/home" "$P/project"
  export HOME=$P/home
  cp "$FIXTURE/resolve/package.json" "$P/project/package.json"
  npmrc_for "$URL" >"$HOME/.npmrc"
  cd "$P/project"
  npm install --package-lock-only --ignore-scripts --no-audit --no-fund --cache "$P/lock-cache" >/dev/null 2>&1
  entries=$(node -e 'console.log(Object.keys(require("./package-lock.json").packages).length - 1)')

  # Each figure is the best of RUNS runs: noise here only ever adds time.
  unset npm_cold npm_warm lading_cold offline lading_warm lading_total
  for run in $(seq "$RUNS"); do
    log "$server: run $run/$RUNS: npm ci cold then warm; lading restore cold, npm ci --offline, warm restore"
    discard node_modules "$P/npm-cache" "$P/npm-cache2" "$P/lading-cache"
    timed t npm_ci "$P/npm-cache" && best npm_cold "$t"
    discard node_modules && timed t npm_ci "$P/npm-cache" --offline && best npm_warm "$t"
    discard node_modules && timed cold restore "$P/lading-cache" "$P/npm-cache2" "$URL"
    best lading_cold "$cold" && rss=$(peak_mib)
    timed t npm_ci "$P/npm-cache2" --offline && best offline "$t"
    best lading_total "$(echo "$cold + $t" | bc)"
    discard "$P/npm-cache2" && timed t restore "$P/lading-cache" "$P/npm-cache2" "$URL" && best lading_warm "$t"
  done
  fetch_share=$(echo "$npm_cold - $npm_warm" | bc)

  printf '\n%s (%s lockfile entries, best of %s runs):\n' "$server" "$entries" "$RUNS"
  printf '  npm fetch share: npm ci cold %ss - npm ci --offline warm %ss = %ss; lading restore cold %ss: %sx (target 3x)\n' \
    "$npm_cold" "$npm_warm" "$fetch_share" "$lading_cold" "$(ratio "$fetch_share" "$lading_cold")"
  printf '  loopback: npm ci cold %ss; lading restore + npm ci --offline %ss (%ss of it npm): %sx (target > 1x)\n' \
    "$npm_cold" "$lading_total" "$offline" "$(ratio "$npm_cold" "$lading_total")"
  printf '  second restore, warm store, empty npm cache: %ss (target < 0.3 s)\n' "$lading_warm"
  printf '  peak RSS of the cold lading restore: %s MiB (target < 100 MB)\n' "$rss"

  if [ "$LATENCY_MS" != 0 ]; then
    latency_proxy "$URL"
    PURL=${URL/$upstream/127.0.0.1:$pport}
    npmrc_for "$PURL" "$URL" >"$HOME/.npmrc"
    # The lockfile's `resolved` URLs name the server: point them at the proxy.
    sed -i "s#http://$upstream/#http://127.0.0.1:$pport/#g" package-lock.json
    unset proxy_npm proxy_lading proxy_offline proxy_total
    for run in $(seq "$RUNS"); do
      log "$server: run $run/$RUNS through the ${LATENCY_MS} ms proxy"
      discard node_modules "$P/npm-cache3" "$P/npm-cache4" "$P/lading-cache2"
      timed t npm_ci "$P/npm-cache3" && best proxy_npm "$t"
      discard node_modules && timed cold restore "$P/lading-cache2" "$P/npm-cache4" "$PURL"
      best proxy_lading "$cold" && proxy_rss=$(peak_mib)
      timed t npm_ci "$P/npm-cache4" --offline && best proxy_offline "$t"
      best proxy_total "$(echo "$cold + $t" | bc)"
    done
    printf '  +%s ms per request: npm ci cold %ss; lading restore %ss (peak %s MiB) + npm ci --offline %ss: %ss: %sx (target 2x)\n' \
      "$LATENCY_MS" "$proxy_npm" "$proxy_lading" "$proxy_rss" "$proxy_offline" "$proxy_total" "$(ratio "$proxy_npm" "$proxy_total")"
  fi
  cd "$WORK"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
done

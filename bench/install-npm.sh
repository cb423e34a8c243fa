#!/usr/bin/env bash
# Benchmark (not a test): `lading restore --install` (node_modules straight from
# package-lock.json, issue 19) against `npm ci`, `pnpm install --frozen-lockfile` (pnpm
# 12.4.2) and `bun install --frozen-lockfile` (bun 1.4.5, the npm package) for the lockfile of
# about 490 real packages of bench/npm-fixture.sh, served by Verdaccio and by `lading serve` in
# turn, on loopback. Every tool starts from the same state: no node_modules, and
#   - cold: an empty cache / store (npm's `--cache`, pnpm's `--store-dir`, bun's
#     BUN_INSTALL_CACHE_DIR, lading's LADING_CACHE_DIR);
#   - warm: the cache / store the cold run left (what a CI cache restore gives).
# All with `--ignore-scripts` (the fixture has no install scripts; npm would still spawn
# nothing). Prints each figure (best of RUNS), the ratios against lading (targets: 7x `npm ci`
# cold, faster than pnpm and bun cold, 20x `npm ci` warm) and the peak RSS of the cold and
# warm lading runs (target < 150 MB). All tools run in one loop, interleaved, so a machine
# loaded by other work weighs on every side alike. Then, unless LATENCY_MS=0, the cold runs
# again through bench/latency-proxy.py (LATENCY_MS added to every request, as a remote
# registry on a LAN; the lockfiles and .npmrc point at the proxy).
#
#   bash bench/install-npm.sh [target/release/lading]
#   SERVERS=lading RUNS=1 bash bench/install-npm.sh
#
# Environment: SERVERS (default "verdaccio lading"), TOOLS (default "npm pnpm bun"), RUNS
# (default 3), NPM_BENCH_DEPS and NPM_BENCH_FIXTURE (see bench/restore-npm-large.sh), LINK
# (lading's --link, default auto), LATENCY_MS (default 50; 0 skips the proxy runs).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
VERDACCIO=$PEERS/node/node_modules/.bin/verdaccio
AWS=$PEERS/venv/bin/aws
PNPM=$PEERS/pnpm/node_modules/pnpm/pnpm
BUN=$PEERS/bun/node_modules/bun/bin/bun.exe
SERVERS=${SERVERS:-verdaccio lading}
TOOLS=${TOOLS:-npm pnpm bun}
RUNS=${RUNS:-3}
LINK=${LINK:-auto}
LATENCY_MS=${LATENCY_MS:-50}
NPM_BENCH_DEPS=${NPM_BENCH_DEPS:-'{"express":"4.21.2","eslint":"8.57.1","@babel/core":"7.26.0","jest":"29.7.0","webpack":"5.97.1","mocha":"10.8.2"}'}
[ -x "$VERDACCIO" ] && [ -x "$AWS" ] && [ -x "$PNPM" ] && [ -x "$BUN" ] || { echo "run .ci/install-peers first" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_lading "$@"
bench_work
# shellcheck source=bench/npm-fixture.sh
. "$ROOT/bench/npm-fixture.sh"

npm_ci() { npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier --cache "$1"; }
pnpm_install() { "$PNPM" install --frozen-lockfile --ignore-scripts --reporter silent --store-dir "$1"; }
bun_install() { BUN_INSTALL_CACHE_DIR=$1 "$BUN" install --frozen-lockfile --ignore-scripts --silent; }
# lading_install CACHE RSS_FILE [REGISTRY]: under /usr/bin/time, for the peak RSS.
lading_install() {
  LADING_CACHE_DIR=$1 NPM_TOKEN=$TOKEN /usr/bin/time -v -o "$2" \
    "$LADING" -q restore --install --ignore-scripts --link "$LINK" --registry-url "${3:-$URL}" --token-env NPM_TOKEN
}
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$1"; }

printf 'lading restore --install vs npm ci, pnpm and bun, %s packages (%s), release build, --link %s\n' \
  "$COUNT" "$NPM_BENCH_DEPS" "$LINK"
for server in $SERVERS; do
  discard "$WORK/lading-serve" "$WORK/verdaccio" "$WORK/p"
  "start_$server"
  log "$server: publishing $COUNT packages"
  publish "$URL" "$TOKEN"
  P=$WORK/p
  mkdir -p "$P/home" "$P/lock"
  export HOME=$P/home
  npmrc_for "$URL" >"$HOME/.npmrc"
  cp "$FIXTURE/resolve/package.json" "$P/lock/package.json"
  (cd "$P/lock" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund --cache "$P/lock-cache" >/dev/null 2>&1)
  entries=$(node -e 'console.log(Object.keys(require(process.argv[1]).packages).length - 1)' "$P/lock/package-lock.json")
  # One project per tool, each with its own lockfile of the same tree (untimed).
  for tool in lading $TOOLS; do
    mkdir -p "$P/$tool"
    cp "$P/lock/package.json" "$P/lock/package-lock.json" "$P/$tool/"
  done
  if [[ " $TOOLS " == *" pnpm "* ]]; then
    (cd "$P/pnpm" && "$PNPM" import >/dev/null 2>&1 && rm package-lock.json)
  fi
  if [[ " $TOOLS " == *" bun "* ]]; then
    (cd "$P/bun" && BUN_INSTALL_CACHE_DIR=$P/bun-lock-cache "$BUN" install --lockfile-only --silent >/dev/null 2>&1 && rm package-lock.json)
  fi

  unset npm_cold npm_warm pnpm_cold pnpm_warm bun_cold bun_warm lading_cold lading_warm
  for run in $(seq "$RUNS"); do
    log "$server: run $run/$RUNS"
    cd "$P/lading"
    discard node_modules "$P/lading-cache"
    timed t lading_install "$P/lading-cache" "$WORK/rss-cold.txt" && best lading_cold "$t"
    cold_rss=$(rss "$WORK/rss-cold.txt")
    discard node_modules
    timed t lading_install "$P/lading-cache" "$WORK/rss-warm.txt" && best lading_warm "$t"
    warm_rss=$(rss "$WORK/rss-warm.txt")
    for tool in $TOOLS; do
      cd "$P/$tool"
      discard node_modules "$P/$tool-cache"
      timed t "${tool}_$([ "$tool" = npm ] && echo ci || echo install)" "$P/$tool-cache" && best "${tool}_cold" "$t"
      discard node_modules
      timed t "${tool}_$([ "$tool" = npm ] && echo ci || echo install)" "$P/$tool-cache" && best "${tool}_warm" "$t"
    done
    # Same tree as npm's (a check, not timed): lading's node_modules against npm ci's.
    if [ "$run" = 1 ] && [[ " $TOOLS " == *" npm "* ]]; then
      cd "$P/lading" && discard node_modules && lading_install "$P/lading-cache" /dev/null >/dev/null 2>&1
      if diff <(cd "$P/npm/node_modules" && find . -printf '%p %y %m %l\n' | sort) \
        <(cd "$P/lading/node_modules" && find . -printf '%p %y %m %l\n' | sort) >/dev/null &&
        diff -r "$P/npm/node_modules" "$P/lading/node_modules" >/dev/null; then
        same="same paths, bytes, modes and links as npm ci's"
      else
        same="DIFFERENT from npm ci's"
      fi
    fi
  done

  printf '\n%s (%s lockfile entries, best of %s runs; node_modules %s):\n' "$server" "$entries" "$RUNS" "${same:-not compared}"
  printf '  cold: lading %ss (peak %s MiB)' "$lading_cold" "$cold_rss"
  for tool in $TOOLS; do
    v=${tool}_cold
    printf '; %s %ss: %sx' "$tool" "${!v}" "$(ratio "${!v}" "$lading_cold")"
  done
  printf '  (targets: npm 7x, pnpm and bun > 1x)\n'
  printf '  warm: lading %ss (peak %s MiB)' "$lading_warm" "$warm_rss"
  for tool in $TOOLS; do
    v=${tool}_warm
    printf '; %s %ss: %sx' "$tool" "${!v}" "$(ratio "${!v}" "$lading_warm")"
  done
  printf '  (target: npm 20x)\n'

  if [ "$LATENCY_MS" != 0 ]; then
    latency_proxy "$URL"
    PURL=${URL/$upstream/127.0.0.1:$pport}
    npmrc_for "$PURL" "$URL" >"$HOME/.npmrc"
    # The lockfiles' tarball URLs name the server: point them at the proxy.
    for tool in lading $TOOLS; do
      for file in package-lock.json pnpm-lock.yaml bun.lock; do
        [ -f "$P/$tool/$file" ] && sed -i "s#http://$upstream/#http://127.0.0.1:$pport/#g" "$P/$tool/$file"
      done
    done
    unset npm_proxy pnpm_proxy bun_proxy lading_proxy
    for run in $(seq "$RUNS"); do
      log "$server: run $run/$RUNS through the ${LATENCY_MS} ms proxy"
      cd "$P/lading"
      discard node_modules "$P/lading-cache"
      timed t lading_install "$P/lading-cache" "$WORK/rss-proxy.txt" "$PURL" && best lading_proxy "$t"
      for tool in $TOOLS; do
        cd "$P/$tool"
        discard node_modules "$P/$tool-cache"
        timed t "${tool}_$([ "$tool" = npm ] && echo ci || echo install)" "$P/$tool-cache" && best "${tool}_proxy" "$t"
      done
    done
    printf '  cold, +%s ms per request: lading %ss (peak %s MiB)' "$LATENCY_MS" "$lading_proxy" "$(rss "$WORK/rss-proxy.txt")"
    for tool in $TOOLS; do
      v=${tool}_proxy
      printf '; %s %ss: %sx' "$tool" "${!v}" "$(ratio "${!v}" "$lading_proxy")"
    done
    printf '\n'
  fi
  cd "$WORK"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
done

#!/usr/bin/env bash
# Benchmark (not a test): `lading restore` + the offline install against pnpm's and yarn 1's
# own cold installs, for the lockfile of about 490 real packages of restore-npm-large.sh,
# served by Verdaccio and by `lading serve` in turn. For each server and tool it prints
#   - `<tool> install --frozen-lockfile` with a cold store/cache, against
#   - `lading restore` into a cold store/mirror + `<tool> install --offline --frozen-lockfile`,
# and the ratio. pnpm is pnpm 12.4.2 (store v11), yarn is yarn 1.22.22 (offline mirror).
#
#   bash bench/restore-pnpm-yarn.sh [target/release/lading]
#
# Environment: SERVERS (default "verdaccio lading"), TOOLS (default "pnpm yarn"), RUNS
# (default 3; each figure is the best of them), NPM_BENCH_DEPS and NPM_BENCH_FIXTURE as in
# restore-npm-large.sh, JOBS (lading restore --jobs).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
VERDACCIO=$PEERS/node/node_modules/.bin/verdaccio
AWS=$PEERS/venv/bin/aws
PNPM=$PEERS/pnpm/node_modules/pnpm/pnpm
YARN1=$PEERS/yarn/node_modules/yarn/bin/yarn.js
SERVERS=${SERVERS:-verdaccio lading}
TOOLS=${TOOLS:-pnpm yarn}
RUNS=${RUNS:-3}
NPM_BENCH_DEPS=${NPM_BENCH_DEPS:-'{"express":"4.21.2","eslint":"8.57.1","@babel/core":"7.26.0","jest":"29.7.0","webpack":"5.97.1","mocha":"10.8.2"}'}
for tool in "$VERDACCIO" "$AWS" "$PNPM" "$YARN1"; do
  [ -e "$tool" ] || { echo "$tool is missing: run .ci/install-peers first" >&2; exit 1; }
done
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_lading "$@"
bench_work
# shellcheck source=bench/npm-fixture.sh
. "$ROOT/bench/npm-fixture.sh"

# restore STORE_FLAG DIR: a cold `lading restore` of the project's lockfile into DIR.
restore() {
  LADING_CACHE_DIR=$P/lading-cache NPM_TOKEN=$TOKEN \
    "$LADING" -q restore "$1" "$2" --registry-url "$URL" --token-env NPM_TOKEN "${JOBS_ARGS[@]}"
}
pnpm_install() { "$PNPM" install --frozen-lockfile --ignore-scripts --reporter silent "$@"; }
yarn_install() { node "$YARN1" install --frozen-lockfile --ignore-scripts --non-interactive --no-progress "$@"; }
# yarn_offline MIRROR CACHE: yarn 1 reading the offline mirror lading wrote, with an empty cache.
yarn_offline() { YARN_YARN_OFFLINE_MIRROR=$1 yarn_install --offline --cache-folder "$2"; }

printf 'lading restore + offline install vs cold pnpm / yarn 1 installs, %s packages, release build\n' "$COUNT"
for server in $SERVERS; do
  discard "$WORK/lading-serve" "$WORK/verdaccio" "$WORK/p"
  "start_$server"
  log "$server: publishing $COUNT packages"
  publish "$URL" "$TOKEN"
  P=$WORK/p
  mkdir -p "$P/home"
  export HOME=$P/home
  npmrc_for "$URL" >"$HOME/.npmrc"
  # yarn 1 sends the token for scoped packages only, unless always-auth.
  export npm_config_always_auth=true
  printf '\n%s (best of %s runs):\n' "$server" "$RUNS"
  for tool in $TOOLS; do
    mkdir -p "$P/$tool"
    cp "$FIXTURE/resolve/package.json" "$P/$tool/package.json"
    cd "$P/$tool"
    if [ "$tool" = pnpm ]; then
      "$PNPM" install --lockfile-only --ignore-scripts --reporter silent --store-dir "$P/lock-store" >/dev/null
    else
      node "$YARN1" install --ignore-scripts --non-interactive --no-progress --cache-folder "$P/lock-cache" >/dev/null
      discard node_modules
    fi
    unset cold lading offline total
    for run in $(seq "$RUNS"); do
      log "$server: $tool run $run/$RUNS: cold install; lading restore + offline install"
      discard node_modules "$P/store" "$P/store2" "$P/store3" "$P/lading-cache"
      if [ "$tool" = pnpm ]; then
        timed t pnpm_install --store-dir "$P/store" && best cold "$t"
        discard node_modules
        timed r restore --pnpm-store "$P/store2" && best lading "$r"
        timed t pnpm_install --offline --store-dir "$P/store2" && best offline "$t"
      else
        timed t yarn_install --cache-folder "$P/store" && best cold "$t"
        discard node_modules
        timed r restore --yarn-offline-mirror "$P/store2" && best lading "$r"
        timed t yarn_offline "$P/store2" "$P/store3" && best offline "$t"
      fi
      best total "$(echo "$r + $t" | bc)"
    done
    printf '  %s: cold install %ss; lading restore %ss + offline install %ss = %ss: %sx\n' \
      "$tool" "$cold" "$lading" "$offline" "$total" "$(ratio "$cold" "$total")"
    cd "$WORK"
  done
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
done

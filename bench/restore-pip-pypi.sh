#!/usr/bin/env bash
# Benchmark (not a test): `lading restore` of a universal hash-pinned requirements file
# (tests/fixtures/pip-select/requirements.txt: 33 pins of 32 packages with native wheels,
# numpy, pandas, cryptography, pydantic-core, aiohttp..., written by `uv pip compile
# --universal --generate-hashes`, so it lists 2 300 hashes: every platform's wheels and the
# sdists) straight from the public PyPI, against `pip download --require-hashes --no-deps`
# with no cache. In one run it prints, for each side, the files placed, their bytes, the
# bytes downloaded (lading: its `--json` report, pages included; pip: the files) and the
# time, best of RUNS; and, with ALL_PLATFORMS=1, one `lading restore --all-platforms` (every
# pinned file, the behaviour before per-target selection) for comparison.
#
#   bash bench/restore-pip-pypi.sh [target/release/lading]
#   RUNS=1 ALL_PLATFORMS=1 bash bench/restore-pip-pypi.sh
#
# Environment: RUNS (default 3), ALL_PLATFORMS (default 0), JOBS (lading restore --jobs),
# INDEX (default https://pypi.org/simple/).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
PY=$PEERS/venv/bin/python
RUNS=${RUNS:-3}
ALL_PLATFORMS=${ALL_PLATFORMS:-0}
INDEX=${INDEX:-https://pypi.org/simple/}
FIXTURE=$ROOT/tests/fixtures/pip-select/requirements.txt
[ -x "$PY" ] || { echo "run .ci/install-peers first" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_lading "$@"
bench_work
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_CONFIG_FILE=/dev/null

P=$WORK/p
mkdir -p "$P"
cp "$FIXTURE" "$P/requirements.txt"
cd "$P"

# restore LADING_CACHE WHEELHOUSE [FLAGS...]
restore() {
  local cache=$1 wheelhouse=$2
  shift 2
  LADING_CACHE_DIR=$cache "$LADING" -q restore --json --lockfile requirements.txt \
    --wheelhouse "$wheelhouse" --registry-url "$INDEX" "${JOBS_ARGS[@]}" "$@" \
    >"$WORK/report.json"
}
pip_download() { "$PY" -m pip download -q --no-cache-dir --require-hashes --no-deps -r requirements.txt -d "$1" -i "$INDEX"; }
count() { find "$1" -type f | wc -l; }
bytes() { du -sb "$1" | cut -f1; }
mib() { echo "scale=1; $1 / 1048576" | bc; }
reported_bytes() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ecosystems"][0]["bytes"])' "$WORK/report.json"; }

unset lading_time pip_time
for run in $(seq "$RUNS"); do
  log "run $run/$RUNS: lading restore (cold store), pip download (no cache)"
  discard "$P/wh" "$P/dl" "$P/lading-cache"
  timed t restore "$P/lading-cache" "$P/wh" --python "$PY" && best lading_time "$t"
  lading_downloaded=$(reported_bytes)
  timed t pip_download "$P/dl" && best pip_time "$t"
done
diff <(ls "$P/wh") <(ls "$P/dl") >"$WORK/diff.txt" && same=yes || same=no

printf 'lading restore vs pip download, %s (%s hashes), from %s, best of %s runs\n' \
  "$(grep -c '^[a-z].*==' requirements.txt) pins" "$(grep -c -- '--hash=' requirements.txt)" "$INDEX" "$RUNS"
printf '  pip download --require-hashes --no-deps: %s files, %s MiB, %ss\n' \
  "$(count "$P/dl")" "$(mib "$(bytes "$P/dl")")" "$pip_time"
printf '  lading restore: %s files, %s MiB placed (%s MiB downloaded with the index pages), %ss: %sx\n' \
  "$(count "$P/wh")" "$(mib "$(bytes "$P/wh")")" "$(mib "$lading_downloaded")" "$lading_time" \
  "$(ratio "$pip_time" "$lading_time")"
printf '  same files as pip: %s\n' "$same"
[ "$same" = yes ] || cat "$WORK/diff.txt"

if [ "$ALL_PLATFORMS" = 1 ]; then
  log "lading restore --all-platforms (every pinned file)"
  discard "$P/all" "$P/lading-cache-all"
  timed t restore "$P/lading-cache-all" "$P/all" --all-platforms
  printf '  lading restore --all-platforms: %s files, %s MiB, %ss\n' \
    "$(count "$P/all")" "$(mib "$(bytes "$P/all")")" "$t"
fi

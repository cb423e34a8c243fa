#!/usr/bin/env bash
# Benchmark (not a test): `lading restore --install --venv` of the ~80-package hash-pinned set
# bench/requirements-install-py.txt (81 pins: the trees of requests, flask, django, pandas,
# boto3, sphinx, black, cryptography...; every file's hash, as `uv pip compile
# --generate-hashes` writes them) from the public PyPI into an empty virtual environment,
# against `pip install --require-hashes` (pip --python, the peers' pip) and `uv pip install
# --require-hashes` into identical ones. Every side starts with a cold cache (lading: an empty
# store; pip: --no-cache-dir; uv: an empty UV_CACHE_DIR) and an empty `python -m venv
# --without-pip` environment, created untimed. Byte compilation is compared like for like:
# without it (lading's and uv's default; `pip install --no-compile`), then with it (pip's
# default; `lading --compile`, `uv --compile-bytecode`). The sides run in turn within each
# run, so a machine whose load drifts slows them alike; each figure is the best of RUNS.
# Then it checks that `pip list` of lading's environment equals pip's and `pip check` passes.
#
#   bash bench/install-py.sh [target/release/lading]
#   RUNS=1 COMPILE=0 bash bench/install-py.sh
#
# Environment: RUNS (default 3), COMPILE (default 1: also the byte-compiling runs), JOBS
# (lading restore --jobs), INDEX (default https://pypi.org/simple/), REQUIREMENTS (default
# bench/requirements-install-py.txt).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
PY=$PEERS/venv/bin/python
UV=$PEERS/venv/bin/uv
RUNS=${RUNS:-3}
COMPILE=${COMPILE:-1}
INDEX=${INDEX:-https://pypi.org/simple/}
REQUIREMENTS=${REQUIREMENTS:-$ROOT/bench/requirements-install-py.txt}
[ -x "$PY" ] && [ -x "$UV" ] || { echo "run .ci/install-peers first" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_lading "$@"
bench_work
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_CONFIG_FILE=/dev/null UV_NO_CONFIG=1

P=$WORK/p
mkdir -p "$P"
cp "$REQUIREMENTS" "$P/requirements.txt"
cd "$P"

# Each side gets a new environment and a new cache; the old ones are renamed aside.
fresh() { discard "$P/$1" "$P/$1-cache"; "$PY" -m venv --without-pip "$P/$1"; }
lading_install() {
  LADING_CACHE_DIR=$P/$1-cache "$LADING" -q restore --install --lockfile requirements.txt \
    --registry-url "$INDEX" --venv "$P/$1" "${JOBS_ARGS[@]}" "${@:2}"
}
pip_install() {
  "$PY" -m pip --python "$P/$1/bin/python" install -q --no-cache-dir --require-hashes \
    -r requirements.txt -i "$INDEX" "${@:2}"
}
uv_install() {
  UV_CACHE_DIR=$P/$1-cache "$UV" pip install -q --require-hashes -r requirements.txt \
    --python "$P/$1/bin/python" --index-url "$INDEX" "${@:2}"
}

unset lading_time pip_time uv_time lading_c_time pip_c_time uv_c_time
for run in $(seq "$RUNS"); do
  log "run $run/$RUNS: without byte compilation: lading, uv, pip"
  fresh lading && timed t lading_install lading && best lading_time "$t"
  fresh uv && timed t uv_install uv && best uv_time "$t"
  fresh pip && timed t pip_install pip --no-compile && best pip_time "$t"
  if [ "$COMPILE" = 1 ]; then
    log "run $run/$RUNS: with byte compilation: lading --compile, uv --compile-bytecode, pip"
    fresh lading-c && timed t lading_install lading-c --compile && best lading_c_time "$t"
    fresh uv-c && timed t uv_install uv-c --compile-bytecode && best uv_c_time "$t"
    fresh pip-c && timed t pip_install pip-c && best pip_c_time "$t"
  fi
done

listed() { "$PY" -m pip --python "$P/$1/bin/python" list --format=json; }
[ "$(listed lading)" = "$(listed pip)" ] && same=yes || same=no
"$PY" -m pip --python "$P/lading/bin/python" check >"$WORK/check.txt" 2>&1 && check=passes || check=fails
packages=$(listed lading | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')

printf 'lading restore --install vs pip install and uv pip install (--require-hashes), %s pins (%s hashes), %s packages installed, from %s, cold caches, best of %s runs\n' \
  "$(grep -c '^[a-z].*==' requirements.txt)" "$(grep -c -- '--hash=' requirements.txt)" "$packages" "$INDEX" "$RUNS"
printf '  no byte compilation: pip install --no-compile %ss, uv pip install %ss, lading %ss: %sx pip, %sx uv\n' \
  "$pip_time" "$uv_time" "$lading_time" "$(ratio "$pip_time" "$lading_time")" "$(ratio "$uv_time" "$lading_time")"
if [ "$COMPILE" = 1 ]; then
  printf '  byte-compiled: pip install %ss, uv pip install --compile-bytecode %ss, lading --compile %ss: %sx pip, %sx uv\n' \
    "$pip_c_time" "$uv_c_time" "$lading_c_time" "$(ratio "$pip_c_time" "$lading_c_time")" "$(ratio "$uv_c_time" "$lading_c_time")"
  printf '  lading (no compilation) vs pip install (its default, compiling): %sx\n' "$(ratio "$pip_c_time" "$lading_time")"
fi
printf '  pip list of lading'"'"'s environment equals pip'"'"'s: %s; pip check %s\n' "$same" "$check"
[ "$check" = passes ] || cat "$WORK/check.txt"

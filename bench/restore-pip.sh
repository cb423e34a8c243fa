#!/usr/bin/env bash
# Benchmark (not a test): `lading restore` of a hashed requirements set (about 80 real wheels,
# 90 MB: the trees of requests, flask, django, pandas, boto3, sphinx...) against pip, served
# by pypiserver (the peers venv's, no auth, its default wsgiref server) and by `lading serve`
# in turn, on loopback and through bench/latency-proxy.py. For each server it prints:
#   - `lading restore` into a cold cache vs `pip download -r requirements.txt --require-hashes`
#     with no cache (the fetch alone; both leave the same files in a directory);
#   - `lading restore` + `pip install --no-index --find-links WHEELHOUSE` vs `pip install`
#     from the index with a cold cache (both with --require-hashes, into an empty --target);
#   - both comparisons through the latency proxy;
#   - a second `lading restore` with a warm store and an empty wheelhouse;
#   - peak RSS of the cold `lading restore`.
#
# The wheels (for this machine's Python and platform, binary only) are downloaded from PyPI
# once into ${LADING_PEERS_DIR:-.peers}/pip-bench-fixture, keyed by PIP_BENCH_REQS.
#
#   bash bench/restore-pip.sh [target/release/lading]
#   SERVERS=lading PIP_BENCH_REQS='requests==2.34.2' bash bench/restore-pip.sh
#
# Environment: SERVERS (default "pypiserver lading"), LATENCY_MS (default 50; 0 skips the
# proxy runs), PIP_BENCH_REQS (the top-level pins; their dependencies come too),
# PIP_BENCH_FIXTURE (where the fixture is kept), JOBS (lading restore --jobs), RUNS (default 3;
# each figure is the best of them).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
PY=$PEERS/venv/bin/python
PYPISERVER=$PEERS/venv/bin/pypi-server
AWS=$PEERS/venv/bin/aws
TWINE=$PEERS/venv/bin/twine
SERVERS=${SERVERS:-pypiserver lading}
RUNS=${RUNS:-3}
LATENCY_MS=${LATENCY_MS:-50}
PIP_BENCH_REQS=${PIP_BENCH_REQS:-requests==2.34.2 flask==3.1.3 django==5.2.19 sqlalchemy==2.1.9 pydantic==2.14.4 jinja2==3.1.6 rich==15.0.0 httpx==0.28.1 pytest==9.2.0 black==26.10.1 boto3==1.44.8 pyyaml==6.0.4 fastapi==0.165.0 uvicorn==0.54.0 celery==5.7.0 redis==8.1.0 sphinx==9.0.4 pandas==3.1.1 cryptography==50.0.2}
FIXTURE=${PIP_BENCH_FIXTURE:-$PEERS/pip-bench-fixture}
[ -x "$PYPISERVER" ] && [ -x "$AWS" ] && [ -x "$TWINE" ] || { echo "run .ci/install-peers first" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_lading "$@"
bench_work
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_CONFIG_FILE=/dev/null

# ---- the fixture: wheels from PyPI and a requirements file pinning each one's sha256 ---------
if [ "$(cat "$FIXTURE/stamp" 2>/dev/null)" != "$PIP_BENCH_REQS $($PY -c 'import sys; print(sys.version_info[:2])')" ] \
  || [ ! -f "$FIXTURE/requirements.txt" ]; then
  log "downloading the fixture from PyPI: $PIP_BENCH_REQS"
  rm -rf "$FIXTURE"
  mkdir -p "$FIXTURE/wheels"
  # shellcheck disable=SC2086
  "$PY" -m pip download -q --only-binary=:all: -d "$FIXTURE/wheels" $PIP_BENCH_REQS
  "$PY" - "$FIXTURE/wheels" >"$FIXTURE/requirements.txt" <<'PY'
import hashlib, os, sys
wheels = sys.argv[1]
for name in sorted(os.listdir(wheels)):
    project, version = name.split("-")[:2]
    with open(os.path.join(wheels, name), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"{project}=={version} \\\n    --hash=sha256:{digest}")
PY
  printf '%s %s' "$PIP_BENCH_REQS" "$($PY -c 'import sys; print(sys.version_info[:2])')" >"$FIXTURE/stamp"
fi
COUNT=$(ls "$FIXTURE/wheels" | wc -l)
MB=$(du -sm "$FIXTURE/wheels" | cut -f1)

start_pypiserver() { # -> INDEX (the simple URL pip uses), REG (what lading restore is given), TOKEN
  local port
  port=$(free_port)
  "$PYPISERVER" run -i 127.0.0.1 -p "$port" -a . -P . --disable-fallback "$FIXTURE/wheels" \
    >"$WORK/pypiserver.log" 2>&1 &
  PIDS+=($!)
  until curl -fs "http://127.0.0.1:$port/simple/" >/dev/null; do sleep 0.2; done
  TOKEN=unused
  REG=http://127.0.0.1:$port/simple/
  INDEX=$REG
}

start_lading() {
  local port
  port=$(free_port)
  "$LADING" serve --data "$WORK/lading-serve" --listen "127.0.0.1:$port" 2>"$WORK/lading-serve.log" &
  PIDS+=($!)
  until curl -fs "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.1; done
  TOKEN=$(AWS_SHARED_CREDENTIALS_FILE=$WORK/lading-serve/credentials AWS_CONFIG_FILE=/dev/null \
    "$AWS" codeartifact get-authorization-token --domain local --endpoint-url "http://127.0.0.1:$port" \
    --region us-east-1 --query authorizationToken --output text)
  log "lading: uploading $COUNT wheels with twine"
  "$TWINE" upload --disable-progress-bar --non-interactive -u aws -p "$TOKEN" \
    --repository-url "http://127.0.0.1:$port/d/local/pypi/main/" "$FIXTURE"/wheels/* >"$WORK/twine.log" 2>&1 \
    || { tail -n 20 "$WORK/twine.log" >&2; exit 1; }
  REG=http://aws@127.0.0.1:$port/d/local/pypi/main/
  INDEX=http://aws:$TOKEN@127.0.0.1:$port/d/local/pypi/main/simple/
}

# restore LADING_CACHE WHEELHOUSE REGISTRY
restore() {
  LADING_CACHE_DIR=$1 PIP_TOKEN=$TOKEN /usr/bin/time -v -o "$WORK/time.txt" \
    "$LADING" -q restore --lockfile requirements.txt --wheelhouse "$2" --registry-url "$3" \
    --token-env PIP_TOKEN "${JOBS_ARGS[@]}"
}
pip_download() { "$PY" -m pip download --no-cache-dir --require-hashes -r requirements.txt -d "$2" -i "$1"; }
pip_install() { PIP_CACHE_DIR=$2 "$PY" -m pip install --require-hashes -r requirements.txt --target "$3" -i "$1"; }
pip_install_offline() {
  "$PY" -m pip install --no-cache-dir --require-hashes -r requirements.txt --target "$2" --no-index --find-links "$1"
}

printf 'lading restore vs pip, %s wheels (%s MB), release build, LATENCY_MS=%s\n' "$COUNT" "$MB" "$LATENCY_MS"
for server in $SERVERS; do
  discard "$WORK/lading-serve" "$WORK/p"
  "start_$server"
  P=$WORK/p
  mkdir -p "$P"
  cp "$FIXTURE/requirements.txt" "$P/"
  cd "$P"

  # Each figure is the best of RUNS runs: noise here only ever adds time.
  unset pip_dl lading_cold lading_warm install_cold install_offline total
  for run in $(seq "$RUNS"); do
    log "$server: run $run/$RUNS: pip download, lading restore cold and warm, pip install cold, lading restore + pip install --no-index"
    discard "$P/dl" "$P/wh" "$P/wh2" "$P/t1" "$P/t2" "$P/pip-cache" "$P/lading-cache" "$P/lading-cache2"
    timed t pip_download "$INDEX" "$P/dl" && best pip_dl "$t"
    timed t restore "$P/lading-cache" "$P/wh" "$REG" && best lading_cold "$t" && rss=$(peak_mib)
    [ "$(ls "$P/wh" | wc -l)" = "$COUNT" ] || { echo "lading restore placed $(ls "$P/wh" | wc -l) of $COUNT files" >&2; exit 1; }
    discard "$P/wh"
    timed t restore "$P/lading-cache" "$P/wh" "$REG" && best lading_warm "$t"
    timed t pip_install "$INDEX" "$P/pip-cache" "$P/t1" && best install_cold "$t"
    timed cold restore "$P/lading-cache2" "$P/wh2" "$REG"
    timed t pip_install_offline "$P/wh2" "$P/t2" && best install_offline "$t"
    best total "$(echo "$cold + $t" | bc)"
  done

  printf '\n%s (best of %s runs):\n' "$server" "$RUNS"
  printf '  fetch: pip download (no cache) %ss; lading restore cold %ss: %sx\n' \
    "$pip_dl" "$lading_cold" "$(ratio "$pip_dl" "$lading_cold")"
  printf '  end to end: pip install (cold cache) %ss; lading restore + pip install --no-index %ss (%ss of it pip): %sx\n' \
    "$install_cold" "$total" "$install_offline" "$(ratio "$install_cold" "$total")"
  printf '  second restore, warm store, empty wheelhouse: %ss (target < 0.3 s)\n' "$lading_warm"
  printf '  peak RSS of the cold lading restore: %s MiB (target < 100 MB)\n' "$rss"

  if [ "$LATENCY_MS" != 0 ]; then
    latency_proxy "$REG"
    PINDEX=${INDEX/$upstream/127.0.0.1:$pport} PREG=${REG/$upstream/127.0.0.1:$pport}
    unset proxy_pip proxy_lading proxy_install proxy_offline proxy_total
    for run in $(seq "$RUNS"); do
      log "$server: run $run/$RUNS through the ${LATENCY_MS} ms proxy"
      discard "$P/dl2" "$P/wh3" "$P/t3" "$P/t4" "$P/pip-cache2" "$P/lading-cache3"
      timed t pip_download "$PINDEX" "$P/dl2" && best proxy_pip "$t"
      timed cold restore "$P/lading-cache3" "$P/wh3" "$PREG" && best proxy_lading "$cold"
      timed t pip_install "$PINDEX" "$P/pip-cache2" "$P/t3" && best proxy_install "$t"
      timed t pip_install_offline "$P/wh3" "$P/t4" && best proxy_offline "$t"
      best proxy_total "$(echo "$cold + $t" | bc)"
    done
    printf '  +%s ms per request, fetch: pip download %ss; lading restore cold %ss: %sx\n' \
      "$LATENCY_MS" "$proxy_pip" "$proxy_lading" "$(ratio "$proxy_pip" "$proxy_lading")"
    printf '  +%s ms per request, end to end: pip install (cold cache) %ss; lading restore + pip install --no-index %ss (%ss of it pip): %sx\n' \
      "$LATENCY_MS" "$proxy_install" "$proxy_total" "$proxy_offline" "$(ratio "$proxy_install" "$proxy_total")"
  fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
done

#!/usr/bin/env bash
# Benchmark: `lading login --tool npm` vs `aws codeartifact login --tool npm` against the same
# `lading serve` endpoint, N runs each (cold token cache for lading on every run, so both mint
# a token every time). Prints mean seconds per login and the ratio. Not a test.
#
#   bash bench/login.sh          # 10 runs each
#   RUNS=30 bash bench/login.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${RUNS:-10}
PEERS=${LADING_PEERS_DIR:-$PWD/.peers}
[ -x "$PEERS/venv/bin/aws" ] || .ci/install-peers
cargo build --release --quiet
LADING=$PWD/target/release/lading
WORK=$(mktemp -d)
cleanup() { kill "${SERVER_PID:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$LADING" serve --data "$WORK/data" --listen "127.0.0.1:$PORT" 2>"$WORK/serve.log" &
SERVER_PID=$!
until curl -fs "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 0.1; done
export AWS_SHARED_CREDENTIALS_FILE=$WORK/data/credentials AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1
COMMON=(--domain local --domain-owner 000000000000 --repository main --endpoint-url "http://127.0.0.1:$PORT")

time_runs() { # label command... -> mean seconds
  local start end
  start=$(date +%s.%N)
  for i in $(seq "$RUNS"); do
    rm -rf "$WORK/home" "$WORK/cache"; mkdir -p "$WORK/home"
    HOME=$WORK/home LADING_CACHE_DIR=$WORK/cache "$@" >/dev/null 2>&1
  done
  end=$(date +%s.%N)
  python3 -c "print(($end - $start) / $RUNS)"
}
aws_mean=$(time_runs "$PEERS/venv/bin/aws" codeartifact login --tool npm "${COMMON[@]}")
lading_mean=$(time_runs "$LADING" login --tool npm --target user "${COMMON[@]}" --region us-east-1)
python3 - "$aws_mean" "$lading_mean" "$RUNS" <<'PY'
import sys
aws, lading, runs = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
print(f"runs per tool:               {runs}")
print(f"aws codeartifact login npm:  {aws:.3f} s")
print(f"lading login --tool npm:     {lading:.3f} s")
print(f"ratio (aws / lading):        {aws / lading:.1f}x")
PY

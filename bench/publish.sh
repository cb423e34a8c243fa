#!/usr/bin/env bash
# Benchmark (not a test): publish N small wheels (default 100, distinct projects, generated
# with tests/peers/pypi_wheel.py) with `lading publish --format pypi` against `twine upload`,
# each into a fresh pypiserver (the .peers one, htpasswd auth) on loopback. lading also checks
# what the index already has before each upload and reads every file back afterwards; twine
# does neither. Prints both times and the ratio.
#
#   .ci/install-peers && bash bench/publish.sh
#   COUNT=20 PARALLEL=8 bash bench/publish.sh   # PARALLEL: lading's --parallel (default 4)
#   bash bench/publish.sh path/to/lading        # a prebuilt binary instead of `cargo build --release`
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
COUNT=${COUNT:-100}
PARALLEL=${PARALLEL:-4}
VENV=$PEERS/venv/bin
[ -x "$VENV/pypi-server" ] && [ -x "$VENV/twine" ] || { echo "run .ci/install-peers first" >&2; exit 1; }
if [ $# -gt 0 ]; then LADING=$(realpath "$1"); else
  (cd "$ROOT" && cargo build --release --quiet); LADING=$ROOT/target/release/lading; fi
WORK=$(mktemp -d)
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=
}
trap 'stop_server; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/wheels" "$WORK/home"

for i in $(seq -f '%03g' "$COUNT"); do
  "$VENV/python" "$ROOT/tests/peers/pypi_wheel.py" "$WORK/wheels" "bench-pkg-$i" 1.0.0 '>=3.8' "bench_pkg_$i" "value-$i" >/dev/null
done
"$VENV/python" -c "from passlib.apache import HtpasswdFile as H; h = H('$WORK/htpasswd', new=True); h.set_password('uploader', 'uploader-password'); h.save()"

start_server() { # fresh package directory $1
  mkdir -p "$1"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$VENV/pypi-server" run -i 127.0.0.1 -p "$PORT" -P "$WORK/htpasswd" -a update,download,list \
    --disable-fallback "$1" >"$1.log" 2>&1 &
  SERVER_PID=$!
  until curl -s "http://127.0.0.1:$PORT/" -o /dev/null; do sleep 0.1; done
  URL=http://127.0.0.1:$PORT/
}
now() { date +%s.%N; }

start_server "$WORK/twine-packages"
start=$(now)
HOME=$WORK/home "$VENV/twine" upload --non-interactive --disable-progress-bar \
  --repository-url "$URL" -u uploader -p uploader-password "$WORK"/wheels/*.whl >"$WORK/twine.log" 2>&1 ||
  { cat "$WORK/twine.log" >&2; exit 1; }
twine_time=$(echo "$(now) - $start" | bc)
stop_server
[ "$(ls "$WORK/twine-packages" | wc -l)" -eq "$COUNT" ] || { echo "twine did not upload $COUNT wheels" >&2; exit 1; }

start_server "$WORK/lading-packages"
start=$(now)
HOME=$WORK/home PYPI_PASSWORD=uploader-password "$LADING" -q publish --format pypi \
  --registry-url "$URL" --token-env PYPI_PASSWORD --username uploader --parallel "$PARALLEL" \
  "$WORK"/wheels/*.whl
lading_time=$(echo "$(now) - $start" | bc)
stop_server
[ "$(ls "$WORK/lading-packages" | wc -l)" -eq "$COUNT" ] || { echo "lading did not upload $COUNT wheels" >&2; exit 1; }
cmp -s <(cd "$WORK/twine-packages" && sha256sum -- *) <(cd "$WORK/lading-packages" && sha256sum -- *) ||
  { echo "the two servers hold different files" >&2; exit 1; }

printf '%d wheels into a fresh pypiserver each\n' "$COUNT"
printf 'twine upload:                      %6.2fs\n' "$twine_time"
printf 'lading publish --parallel %-3d     %6.2fs (existence check + upload + read-back per wheel)\n' "$PARALLEL" "$lading_time"
printf 'ratio: %.2fx\n' "$(echo "scale=4; $twine_time / $lading_time" | bc)"

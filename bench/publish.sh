#!/usr/bin/env bash
# Benchmark (not a test): publish N small wheels (default 100, distinct projects, generated
# with tests/peers/pypi_wheel.py) with `lading publish --format pypi` against `twine upload`,
# each into a fresh server of the same kind on loopback: pypiserver (the .peers one, htpasswd
# auth; single-threaded, so lading's parallel uploads queue) and `lading serve`'s PyPI
# repository (token auth). lading also checks what the index already has before each upload
# and reads every file back afterwards; twine does neither. Prints times and ratios.
#
#   .ci/install-peers && bash bench/publish.sh
#   COUNT=20 PARALLEL=8 bash bench/publish.sh   # PARALLEL: lading's --parallel (default 4)
#   bash bench/publish.sh path/to/lading        # a prebuilt binary instead of `cargo build --release`
#   SERVERS=lading bash bench/publish.sh        # SERVERS: "pypiserver lading" by default
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
COUNT=${COUNT:-100}
PARALLEL=${PARALLEL:-4}
SERVERS=${SERVERS:-pypiserver lading}
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

start_pypiserver() { # fresh package directory $1
  mkdir -p "$1"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$VENV/pypi-server" run -i 127.0.0.1 -p "$PORT" -P "$WORK/htpasswd" -a update,download,list \
    --disable-fallback "$1" >"$1.log" 2>&1 &
  SERVER_PID=$!
  until curl -s "http://127.0.0.1:$PORT/" -o /dev/null; do sleep 0.1; done
  URL=http://127.0.0.1:$PORT/ USER_NAME=uploader PASSWORD=uploader-password
}
start_lading_serve() { # fresh data directory $1
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$LADING" serve --data "$1" --listen "127.0.0.1:$PORT" >"$1.log" 2>&1 &
  SERVER_PID=$!
  until curl -fs "http://127.0.0.1:$PORT/health" -o /dev/null; do sleep 0.1; done
  URL=http://127.0.0.1:$PORT/d/local/pypi/main/ USER_NAME=aws
  PASSWORD=$(AWS_SHARED_CREDENTIALS_FILE=$1/credentials AWS_CONFIG_FILE=/dev/null "$VENV/aws" codeartifact \
    get-authorization-token --domain local --endpoint-url "http://127.0.0.1:$PORT" --region us-east-1 \
    --query authorizationToken --output text)
}
count_files() { # what server $1 with data $2 holds: file count and digests
  if [ "$1" = pypiserver ]; then (cd "$2" && sha256sum -- *); else
    curl -fs -u "aws:$PASSWORD" "${URL}simple/" >/dev/null
    find "$2/blobs-v1" -type f -exec sha256sum {} + | cut -d' ' -f1 | sort; fi
}
now() { date +%s.%N; }

printf '%d wheels, a fresh server of each kind per tool\n' "$COUNT"
for server in $SERVERS; do
  start_$( [ "$server" = pypiserver ] && echo pypiserver || echo lading_serve ) "$WORK/$server-twine"
  start=$(now)
  HOME=$WORK/home "$VENV/twine" upload --non-interactive --disable-progress-bar \
    --repository-url "$URL" -u "$USER_NAME" -p "$PASSWORD" "$WORK"/wheels/*.whl >"$WORK/twine.log" 2>&1 ||
    { cat "$WORK/twine.log" >&2; exit 1; }
  twine_time=$(echo "$(now) - $start" | bc)
  twine_files=$(count_files "$server" "$WORK/$server-twine")
  stop_server

  start_$( [ "$server" = pypiserver ] && echo pypiserver || echo lading_serve ) "$WORK/$server-lading"
  start=$(now)
  HOME=$WORK/home PUBLISH_PASSWORD=$PASSWORD "$LADING" -q publish --format pypi \
    --registry-url "$URL" --token-env PUBLISH_PASSWORD --username "$USER_NAME" --parallel "$PARALLEL" \
    "$WORK"/wheels/*.whl
  lading_time=$(echo "$(now) - $start" | bc)
  lading_files=$(count_files "$server" "$WORK/$server-lading")
  stop_server
  [ "$(printf '%s\n' "$twine_files" | wc -l)" -eq "$COUNT" ] || { echo "$server: twine did not upload $COUNT wheels" >&2; exit 1; }
  [ "$twine_files" = "$lading_files" ] || { echo "$server: the two servers hold different files" >&2; exit 1; }
  printf '%-10s twine upload %6.2fs, lading publish --parallel %d %6.2fs (check + upload + read-back): %.2fx\n' \
    "$server" "$twine_time" "$PARALLEL" "$lading_time" "$(echo "scale=4; $twine_time / $lading_time" | bc)"
done

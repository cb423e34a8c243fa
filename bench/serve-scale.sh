#!/usr/bin/env bash
# Benchmark (not a test): `lading serve` on one machine's embedded store vs on PostgreSQL +
# S3, and three nodes on PostgreSQL + S3 behind nginx (issue 21), measured in one run:
#
#   A  one node, SQLite index + blobs on local disk (the default)
#   B  one node, `--index postgres://… --blobs s3://…` (PostgreSQL 15 from Debian, moto's S3)
#   C  three nodes on one database and bucket, behind nginx (round robin, keep-alive)
#
# For each: a warm packument GET and a warm tarball GET of one package (wrk, CONNECTIONS
# connections for DURATION seconds: requests/s, p50, p99; "warm" means read once before, so
# a node serves the tarball from its local blob cache), and PUBLISHES npm publishes one
# after the other on one connection (p50, p99, publishes/s). Then the ratios B/A and C/A.
# Targets: a warm packument GET over PostgreSQL within 2x of the embedded store's latency,
# a warm tarball GET within 1.2x.
#
# On 2 cores the three-node figures show overhead, not scale: the three nodes, nginx,
# PostgreSQL, moto and wrk share the same two cores. What a larger machine multiplies is the
# per-node cost, which is column B.
#
#   bash bench/serve-scale.sh [target/release/lading]
#
# Environment: DURATION (default 10), CONNECTIONS (default 16), PUBLISHES (default 300).
# Needs root (PostgreSQL's initdb runs as the `postgres` user, through runuser).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
AWS=$PEERS/venv/bin/aws
MOTO=$PEERS/s3-venv/bin/moto_server
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
PUBLISHES=${PUBLISHES:-300}
[ -x "$AWS" ] && [ -x "$MOTO" ] || { echo "run .ci/install-peers first" >&2; exit 1; }
[ -x "$PGBIN/initdb" ] || { echo "installing postgresql" >&2; apt-get install -y -q postgresql >/dev/null; }
command -v wrk >/dev/null || { echo "installing wrk" >&2; apt-get install -y -q wrk >/dev/null; }
command -v nginx >/dev/null || { echo "installing nginx" >&2; apt-get install -y -q nginx-light >/dev/null; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_lading "$@"
bench_work
chmod 755 "$WORK"

# PostgreSQL: a throwaway cluster owned by `postgres`, on loopback.
PGDIR=$WORK/pg
mkdir -p "$PGDIR" && chown postgres "$PGDIR"
pgport=$(free_port)
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres >"$WORK/initdb.log"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
  -o "-p $pgport -k $PGDIR -c listen_addresses=127.0.0.1" start >/dev/null
pg_stop() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1 || true; }
trap 'pg_stop; bench_cleanup' EXIT
for db in b c; do runuser -u postgres -- "$PGBIN/createdb" -h 127.0.0.1 -p "$pgport" -U postgres "$db"; done

# S3: moto's server, one bucket.
s3port=$(free_port)
"$MOTO" -H 127.0.0.1 -p "$s3port" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$s3port AWS_ACCESS_KEY_ID=testing \
  AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
until curl -s -o /dev/null "$AWS_ENDPOINT_URL_S3"; do sleep 0.1; done
AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  "$AWS" s3api create-bucket --bucket lading-bench >/dev/null

# start_node NAME ARGS...: a node on a free port; sets `port`.
start_node() {
  local name=$1
  shift
  port=$(free_port)
  LADING_LOG=warn "$LADING" serve --data "$WORK/$name" --listen "127.0.0.1:$port" "$@" \
    2>"$WORK/$name.log" &
  PIDS+=($!)
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
}

# token DATA URL: a repository token from the admin of the data directory DATA.
token() {
  AWS_SHARED_CREDENTIALS_FILE=$WORK/$1/credentials AWS_CONFIG_FILE=/dev/null \
    "$AWS" codeartifact get-authorization-token --domain local --endpoint-url "$2" \
    --region us-east-1 --query authorizationToken --output text
}

# measure LABEL BASE TOKEN: publishes, then warm packument and tarball GETs through BASE.
declare -A RESULT
measure() {
  local label=$1 base=$2 token=$3 registry=$2/d/local/npm/main/
  log "$label: $PUBLISHES publishes"
  read -r _ _ _ p50 _ p99 _ rate < <(python3 "$ROOT/bench/serve-publish.py" "$registry" "$token" "bench-$label" "$PUBLISHES")
  RESULT[$label,publish]="$p50 $p99 $rate"
  local tarball="${registry}bench-$label/-/bench-$label-1.0.0.tgz"
  curl -fs -o /dev/null -H "authorization: Bearer $token" "${registry}bench-$label"
  curl -fs -o /dev/null -H "authorization: Bearer $token" "$tarball"
  for kind in packument tarball; do
    local url="${registry}bench-$label"
    [ "$kind" = tarball ] && url=$tarball
    log "$label: warm $kind GETs, $CONNECTIONS connections, ${DURATION}s"
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "authorization: Bearer $token" "$url" >"$WORK/wrk.txt"
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
    grep -q "Non-2xx" "$WORK/wrk.txt" && { echo "$label $kind: errors" >&2; cat "$WORK/wrk.txt" >&2; exit 1; }
    RESULT[$label,$kind]="$(ms "$p50") $(ms "$p99") $rps"
  done
}

# ms 1.23ms|456.00us|1.20s -> milliseconds
ms() {
  case $1 in
    *us) echo "scale=3; ${1%us} / 1000" | bc ;;
    *ms) echo "${1%ms}" ;;
    *s) echo "scale=3; ${1%s} * 1000" | bc ;;
  esac
}

# A: the embedded default.
start_node a
measure A "http://127.0.0.1:$port" "$(token a "http://127.0.0.1:$port")"

# B: one node on PostgreSQL + S3.
start_node b --index "postgres://postgres@127.0.0.1:$pgport/b" --blobs s3://lading-bench/b
measure B "http://127.0.0.1:$port" "$(token b "http://127.0.0.1:$port")"

# C: three nodes on one database and bucket, behind nginx.
backends=""
for node in c1 c2 c3; do
  start_node "$node" --index "postgres://postgres@127.0.0.1:$pgport/c" --blobs s3://lading-bench/c
  backends+="server 127.0.0.1:$port max_fails=0; "
done
nport=$(free_port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<NGINX
user root; daemon off; master_process off; worker_processes 1; pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream lading { $backends keepalive 64; }
  server {
    listen 127.0.0.1:$nport;
    location / {
      proxy_pass http://lading; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host \$http_host; client_max_body_size 0; proxy_request_buffering off;
    }
  }
}
NGINX
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)
until curl -fs "http://127.0.0.1:$nport/healthz" >/dev/null; do sleep 0.1; done
measure C "http://127.0.0.1:$nport" "$(token c1 "http://127.0.0.1:$nport")"

echo
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores)"
printf '%-34s %28s %28s %28s\n' "" "A: SQLite + disk" "B: PostgreSQL + S3" "C: 3 nodes + nginx"
for kind in packument tarball publish; do
  for field in 1 2 3; do
    case $field in 1) name="p50 ms";; 2) name="p99 ms";; 3) name="per second";; esac
    row=()
    for label in A B C; do
      row+=("$(echo "${RESULT[$label,$kind]}" | cut -d' ' -f"$field")")
    done
    printf '%-34s %28s %28s %28s\n' "$kind $name" "${row[0]}" "${row[1]}" "${row[2]}"
  done
done
echo
for kind in packument tarball publish; do
  a=$(echo "${RESULT[A,$kind]}" | cut -d' ' -f1)
  b=$(echo "${RESULT[B,$kind]}" | cut -d' ' -f1)
  c=$(echo "${RESULT[C,$kind]}" | cut -d' ' -f1)
  echo "$kind p50 latency: B/A $(ratio "$b" "$a")x, C/A $(ratio "$c" "$a")x"
done

#!/usr/bin/env bash
# Benchmark: npm packument and tarball GETs against `lading serve` and Verdaccio serving the
# same package, measured with wrk in one run; prints requests/s, p99 latency and peak RSS of
# each server, and the ratios. Not a test: run it by hand on an otherwise idle machine.
#
#   bash bench/serve-npm.sh            # 10 s per measurement
#   DURATION=30 bash bench/serve-npm.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
PEERS=${LADING_PEERS_DIR:-$PWD/.peers}
command -v wrk >/dev/null || { echo "installing wrk" >&2; apt-get install -y -q wrk >/dev/null; }
[ -x "$PEERS/node/node_modules/.bin/verdaccio" ] || .ci/install-peers
cargo build --release --quiet
LADING=$PWD/target/release/lading
WORK=$(mktemp -d)
cleanup() { kill "${LADING_PID:-}" "${VERDACCIO_PID:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# lading serve
LPORT=$(free_port)
"$LADING" serve --data "$WORK/lading" --listen "127.0.0.1:$LPORT" 2>"$WORK/lading.log" &
LADING_PID=$!
until curl -fs "http://127.0.0.1:$LPORT/health" >/dev/null; do sleep 0.1; done
export AWS_SHARED_CREDENTIALS_FILE=$WORK/lading/credentials AWS_CONFIG_FILE=/dev/null
LTOKEN=$("$PEERS/venv/bin/aws" codeartifact get-authorization-token --domain local --endpoint-url "http://127.0.0.1:$LPORT" --region us-east-1 --query authorizationToken --output text)
LREG="http://127.0.0.1:$LPORT/d/local/npm/main/"

# Verdaccio
VPORT=$(free_port)
mkdir -p "$WORK/verdaccio/storage"
cat >"$WORK/verdaccio/config.yaml" <<YAML
storage: $WORK/verdaccio/storage
auth: { htpasswd: { file: $WORK/verdaccio/storage/htpasswd, max_users: 1000, algorithm: sha1 } }
uplinks: {}
packages: { '**': { access: \$authenticated, publish: \$authenticated } }
security: { api: { legacy: true } }
log: { type: stdout, format: pretty, level: error }
YAML
"$PEERS/node/node_modules/.bin/verdaccio" --config "$WORK/verdaccio/config.yaml" --listen "127.0.0.1:$VPORT" >"$WORK/verdaccio.log" 2>&1 &
VERDACCIO_PID=$!
until curl -fs "http://127.0.0.1:$VPORT/-/ping" >/dev/null; do sleep 0.1; done
VTOKEN=$(curl -fs -X PUT -H 'content-type: application/json' -d '{"name":"bench","password":"bench-password"}' "http://127.0.0.1:$VPORT/-/user/org.couchdb.user:bench" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
VREG="http://127.0.0.1:$VPORT/"

# The same package (with a 200 KiB payload) in both.
mkdir -p "$WORK/pkg" && cd "$WORK/pkg"
echo '{"name":"bench-pkg","version":"1.0.0","description":"benchmark package"}' >package.json
head -c 204800 /dev/urandom | base64 >payload.txt
for reg in "$LREG|$LTOKEN" "$VREG|$VTOKEN"; do
  url=${reg%%|*} token=${reg##*|}
  printf 'registry=%s\n//%s:_authToken=%s\n' "$url" "${url#http://}" "$token" >"$WORK/npmrc"
  NPM_CONFIG_USERCONFIG=$WORK/npmrc npm publish --no-audit --loglevel=error >/dev/null
done
cd - >/dev/null

measure() { # name url token -> "rps p99_ms"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Authorization: Bearer $3" -H 'Accept: application/vnd.npm.install-v1+json' "$2" >"$WORK/$1.wrk"
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$1.wrk")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$WORK/$1.wrk")
  echo "$rps $p99"
}
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

printf '%-22s %12s %12s %10s %10s\n' target lading_rps verdaccio_rps ratio 'p99 l/v ms'
for kind in packument tarball; do
  if [ $kind = packument ]; then lpath="bench-pkg"; vpath="bench-pkg"; else lpath="bench-pkg/-/bench-pkg-1.0.0.tgz"; vpath="bench-pkg/-/bench-pkg-1.0.0.tgz"; fi
  read -r lr lp < <(measure "lading-$kind" "$LREG$lpath" "$LTOKEN")
  read -r vr vp < <(measure "verdaccio-$kind" "$VREG$vpath" "$VTOKEN")
  ratio=$(python3 -c "print(f'{$lr/$vr:.1f}x')")
  printf '%-22s %12s %12s %10s %10s\n' "$kind" "$lr" "$vr" "$ratio" "$lp/$vp"
done
printf 'peak RSS: lading %s MiB, verdaccio %s MiB\n' "$(( $(peak_kib $LADING_PID) / 1024 ))" "$(( $(peak_kib $VERDACCIO_PID) / 1024 ))"

#!/usr/bin/env bash
# Benchmark (not a test): `lading restore` + `npm ci --offline` against `npm ci` with a cold
# cache, same registry (Verdaccio on loopback, holding the 206 real packages of
# .peers/npm-fixture) and same lockfile. Prints both times and their ratio.
#
#   .ci/install-peers && cargo build --release && bench/restore-npm.sh [target/release/lading]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
FIXTURE=$PEERS/npm-fixture
VERDACCIO=$PEERS/node/node_modules/.bin/verdaccio
RUNS=${RUNS:-3}
[ -f "$FIXTURE/manifests.json" ] || { echo "run .ci/install-peers first" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_lading "$@"
bench_work
PORT=$(free_port)
URL=http://127.0.0.1:$PORT/
mkdir -p "$WORK/storage" "$WORK/home" "$WORK/project"
# SHA-1 htpasswd: with the default bcrypt, Verdaccio re-checks the password on every request
# made with a legacy token, ~160 ms of its single thread each, which serialises npm and
# lading alike and hides any concurrency.
cat >"$WORK/config.yaml" <<YAML
storage: $WORK/storage
auth: { htpasswd: { file: $WORK/storage/htpasswd, max_users: 1000, algorithm: sha1 } }
uplinks: {}
packages:
  '@*/*': { access: \$authenticated, publish: \$authenticated }
  '**': { access: \$authenticated, publish: \$authenticated }
security: { api: { legacy: true } }
log: { type: stdout, format: pretty, level: error }
YAML
"$VERDACCIO" --config "$WORK/config.yaml" --listen "127.0.0.1:$PORT" >/dev/null 2>&1 &
PIDS+=($!)
until curl -sf "${URL}-/ping" >/dev/null; do sleep 0.2; done
TOKEN=$(curl -sf -X PUT -H 'content-type: application/json' \
  -d '{"name":"bench","password":"bench-password"}' "${URL}-/user/org.couchdb.user:bench" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')
echo "publishing $(node -e 'console.log(require(process.argv[1]).length)' "$FIXTURE/manifests.json") packages to Verdaccio..." >&2
node - "$FIXTURE" "$URL" "$TOKEN" <<'JS'
const fs = require("fs"), path = require("path"), crypto = require("crypto");
const [dir, registry, token] = process.argv.slice(2);
const entries = require(path.join(dir, "manifests.json"));
(async () => {
  for (const e of entries) {
    const data = fs.readFileSync(path.join(dir, "tarballs", e.file));
    const file = `${e.name}-${e.version}.tgz`;
    const manifest = {...e.manifest, _id: `${e.name}@${e.version}`, dist: {
      integrity: "sha512-" + crypto.createHash("sha512").update(data).digest("base64"),
      shasum: crypto.createHash("sha1").update(data).digest("hex"),
      tarball: `${registry}${e.name}/-/${file}`}};
    const body = {_id: e.name, name: e.name, "dist-tags": {latest: e.version}, versions: {[e.version]: manifest},
      _attachments: {[file]: {content_type: "application/octet-stream", data: data.toString("base64"), length: data.length}}};
    const r = await fetch(registry + e.name.replace("/", "%2f"), {method: "PUT",
      headers: {"content-type": "application/json", authorization: `Bearer ${token}`}, body: JSON.stringify(body)});
    if (!r.ok) throw new Error(`${e.name}@${e.version}: ${r.status} ${await r.text()}`);
  }
})().catch(e => { console.error(e); process.exit(1); });
JS
printf 'registry=%s\n//127.0.0.1:%s/:_authToken=%s\n' "$URL" "$PORT" "$TOKEN" >"$WORK/home/.npmrc"
cp "$FIXTURE/resolve/package.json" "$WORK/project/package.json"
export HOME=$WORK/home
cd "$WORK/project"
npm install --package-lock-only --ignore-scripts --no-audit --no-fund --cache "$WORK/lock-cache" >/dev/null 2>&1

lading_then_npm_offline() {
  LADING_CACHE_DIR=$WORK/lading-cache npm_config_cache=$WORK/c2 NPM_TOKEN=$TOKEN \
    "$LADING" -q restore --registry-url "$URL" --token-env NPM_TOKEN
  npm ci --offline --ignore-scripts --no-audit --no-fund --cache "$WORK/c2"
}
unset best_npm best_lading
for run in $(seq "$RUNS"); do
  discard node_modules "$WORK/c1"
  timed npm_time npm ci --ignore-scripts --no-audit --no-fund --cache "$WORK/c1"
  discard node_modules "$WORK/c2" "$WORK/lading-cache"
  timed lading_time lading_then_npm_offline
  printf 'run %d: npm ci (cold cache) %.2fs; lading restore + npm ci --offline %.2fs\n' "$run" "$npm_time" "$lading_time"
  best best_npm "$npm_time"
  best best_lading "$lading_time"
done
printf 'best of %d: npm ci %.2fs, lading restore + npm ci --offline %.2fs, ratio %.2f\n' \
  "$RUNS" "$best_npm" "$best_lading" "$(ratio "$best_npm" "$best_lading")"

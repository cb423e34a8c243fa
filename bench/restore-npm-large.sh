#!/usr/bin/env bash
# Benchmark (not a test): `lading restore` against npm's own fetching for a lockfile of about
# 490 real packages (express, eslint, @babel/core, jest, webpack, mocha and their trees),
# served by Verdaccio and by `lading serve` in turn, on loopback and through
# bench/latency-proxy.py (which adds LATENCY_MS to every request). For each server it prints:
#   - `lading restore` into a cold cache vs npm's fetch share (`npm ci` with a cold cache minus
#     `npm ci --offline` with the cache that run left; target: lading 3x faster);
#   - `lading restore` + `npm ci --offline` vs `npm ci`, cold caches (target: faster);
#   - the same through the latency proxy (target: 2x);
#   - a second `lading restore` with a warm store and an empty npm cache (target < 0.3 s);
#   - peak RSS of the cold `lading restore` (/usr/bin/time -v; target < 100 MB).
#
# The packages are downloaded from registry.npmjs.org once into
# ${LADING_PEERS_DIR:-.peers}/npm-bench-fixture (keyed by NPM_BENCH_DEPS; about 30 s), then
# published into each server. Only this script uses that fixture.
#
#   bash bench/restore-npm-large.sh [target/release/lading]
#   SERVERS=lading LATENCY_MS=50 NPM_BENCH_DEPS='{"express":"4.21.2"}' bash bench/restore-npm-large.sh
#
# Environment: SERVERS (default "verdaccio lading"), LATENCY_MS (default 50; 0 skips the proxy
# runs), NPM_BENCH_DEPS (JSON dependencies of the project; a smaller set validates quickly),
# NPM_BENCH_FIXTURE (where the fixture is kept), JOBS (lading restore --jobs, default lading's),
# RUNS (default 3; each figure is the best of them).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
VERDACCIO=$PEERS/node/node_modules/.bin/verdaccio
AWS=$PEERS/venv/bin/aws
SERVERS=${SERVERS:-verdaccio lading}
LATENCY_MS=${LATENCY_MS:-50}
RUNS=${RUNS:-3}
NPM_BENCH_DEPS=${NPM_BENCH_DEPS:-'{"express":"4.21.2","eslint":"8.57.1","@babel/core":"7.26.0","jest":"29.7.0","webpack":"5.97.1","mocha":"10.8.2"}'}
[ -x "$VERDACCIO" ] && [ -x "$AWS" ] || { echo "run .ci/install-peers first" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_lading "$@"
bench_work

# ---- the fixture: the tarballs of the resolved tree, from the public registry ---------------
FIXTURE=${NPM_BENCH_FIXTURE:-$PEERS/npm-bench-fixture}
if [ "$(cat "$FIXTURE/stamp" 2>/dev/null)" != "$NPM_BENCH_DEPS" ] || [ ! -f "$FIXTURE/manifests.json" ]; then
  log "fetching the fixture from registry.npmjs.org: $NPM_BENCH_DEPS"
  rm -rf "$FIXTURE"
  mkdir -p "$FIXTURE/resolve" "$FIXTURE/tarballs"
  printf '{"name":"fixture","version":"1.0.0","private":true,"dependencies":%s}\n' "$NPM_BENCH_DEPS" \
    >"$FIXTURE/resolve/package.json"
  npm --prefix "$FIXTURE/resolve" install --package-lock-only --ignore-scripts --no-audit --no-fund \
    --no-omit-lockfile-registry-resolved --registry https://registry.npmjs.org/ \
    --cache "$WORK/resolve-cache" >/dev/null 2>&1
  # One "url file" line per distinct name@version.
  node -e '
    const lock = require(process.argv[1]), seen = new Set();
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path || entry.link || !entry.resolved) continue;
      const name = entry.name || path.slice(path.lastIndexOf("node_modules/") + 13);
      const file = name.replace("/", "__") + "-" + entry.version + ".tgz";
      if (!seen.has(file)) { seen.add(file); console.log(entry.resolved + " " + file); }
    }' "$FIXTURE/resolve/package-lock.json" >"$FIXTURE/urls.txt"
  [ -s "$FIXTURE/urls.txt" ] || { echo "no resolved URLs in $FIXTURE/resolve/package-lock.json" >&2; exit 1; }
  (cd "$FIXTURE/tarballs" && xargs -P 8 -n 2 sh -c 'curl -fsSL --retry 3 -o "$1" "$0"' <../urls.txt)
  node -e '
    const fs = require("fs"), cp = require("child_process"), path = require("path");
    const dir = process.argv[1], out = [];
    for (const file of fs.readdirSync(dir).sort()) {
      const tgz = path.join(dir, file);
      const top = cp.execFileSync("tar", ["-tzf", tgz]).toString().split("\n")[0].split("/")[0];
      const manifest = JSON.parse(cp.execFileSync("tar", ["-xzOf", tgz, top + "/package.json"]).toString());
      out.push({name: manifest.name, version: manifest.version, file, manifest});
    }
    fs.writeFileSync(process.argv[2], JSON.stringify(out));' "$FIXTURE/tarballs" "$FIXTURE/manifests.json"
  printf '%s' "$NPM_BENCH_DEPS" >"$FIXTURE/stamp"
fi
COUNT=$(node -e 'console.log(require(process.argv[1]).length)' "$FIXTURE/manifests.json")

# publish REGISTRY TOKEN: every fixture tarball, as `npm publish` sends it, 8 names at a time.
publish() {
  node - "$FIXTURE" "$1" "$2" <<'JS'
const fs = require("fs"), path = require("path"), crypto = require("crypto");
const [dir, registry, token] = process.argv.slice(2);
const byName = new Map();
for (const e of require(path.join(dir, "manifests.json"))) {
  if (!byName.has(e.name)) byName.set(e.name, []);
  byName.get(e.name).push(e);
}
const names = [...byName.keys()];
async function worker() {
  for (let name; (name = names.shift()) !== undefined;) {
    for (const e of byName.get(name)) {
      const data = fs.readFileSync(path.join(dir, "tarballs", e.file));
      const file = `${e.name}-${e.version}.tgz`;
      const manifest = {...e.manifest, _id: `${e.name}@${e.version}`, dist: {
        integrity: "sha512-" + crypto.createHash("sha512").update(data).digest("base64"),
        shasum: crypto.createHash("sha1").update(data).digest("hex"),
        tarball: `${registry}${e.name}/-/${file}`}};
      const body = {_id: e.name, name: e.name, "dist-tags": {latest: e.version}, versions: {[e.version]: manifest},
        _attachments: {[file]: {content_type: "application/octet-stream", data: data.toString("base64"), length: data.length}}};
      const r = await fetch(registry + e.name.replace("/", "%2f"), {method: "PUT",
        headers: {"content-type": "application/json", authorization: `Bearer ${token}`, "npm-command": "publish"},
        body: JSON.stringify(body)});
      if (!r.ok) throw new Error(`${e.name}@${e.version}: ${r.status} ${await r.text()}`);
    }
  }
}
Promise.all(Array.from({length: 8}, worker)).catch(e => { console.error(e); process.exit(1); });
JS
}

start_verdaccio() { # -> sets URL TOKEN
  local port dir=$WORK/verdaccio
  port=$(free_port)
  mkdir -p "$dir/storage"
  # SHA-1 htpasswd: bcrypt costs Verdaccio ~160 ms of its one thread per authenticated request.
  cat >"$dir/config.yaml" <<YAML
storage: $dir/storage
auth: { htpasswd: { file: $dir/storage/htpasswd, max_users: 1000, algorithm: sha1 } }
uplinks: {}
packages:
  '@*/*': { access: \$authenticated, publish: \$authenticated }
  '**': { access: \$authenticated, publish: \$authenticated }
security: { api: { legacy: true } }
max_body_size: 100mb
log: { type: stdout, format: pretty, level: error }
YAML
  "$VERDACCIO" --config "$dir/config.yaml" --listen "127.0.0.1:$port" >"$dir.log" 2>&1 &
  PIDS+=($!)
  URL=http://127.0.0.1:$port/
  until curl -sf "${URL}-/ping" >/dev/null; do sleep 0.2; done
  TOKEN=$(curl -sf -X PUT -H 'content-type: application/json' \
    -d '{"name":"bench","password":"bench-password"}' "${URL}-/user/org.couchdb.user:bench" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}

start_lading() { # -> sets URL TOKEN
  local port
  port=$(free_port)
  "$LADING" serve --data "$WORK/lading-serve" --listen "127.0.0.1:$port" 2>"$WORK/lading-serve.log" &
  PIDS+=($!)
  until curl -fs "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.1; done
  TOKEN=$(AWS_SHARED_CREDENTIALS_FILE=$WORK/lading-serve/credentials AWS_CONFIG_FILE=/dev/null \
    "$AWS" codeartifact get-authorization-token --domain local --endpoint-url "http://127.0.0.1:$port" \
    --region us-east-1 --query authorizationToken --output text)
  URL=http://127.0.0.1:$port/d/local/npm/main/
}

# npmrc_for URL...: a user npmrc with the registry (the first URL) and the token for each.
npmrc_for() {
  printf 'registry=%s\n' "$1"
  for url in "$@"; do printf '//%s:_authToken=%s\n' "${url#http://}" "$TOKEN"; done
}

npm_ci() { npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier --cache "$@"; }
# restore LADING_CACHE NPM_CACHE REGISTRY: a cold or warm `lading restore`, under /usr/bin/time.
restore() {
  LADING_CACHE_DIR=$1 NPM_TOKEN=$TOKEN /usr/bin/time -v -o "$WORK/time.txt" \
    "$LADING" -q restore --npm-cache "$2" --registry-url "$3" --token-env NPM_TOKEN "${JOBS_ARGS[@]}"
}

printf 'lading restore vs npm, %s packages (%s), release build, LATENCY_MS=%s\n' "$COUNT" "$NPM_BENCH_DEPS" "$LATENCY_MS"
for server in $SERVERS; do
  discard "$WORK/lading-serve" "$WORK/verdaccio" "$WORK/p"
  "start_$server"
  log "$server: publishing $COUNT packages"
  publish "$URL" "$TOKEN"
  P=$WORK/p
  mkdir -p "$P/home" "$P/project"
  export HOME=$P/home
  cp "$FIXTURE/resolve/package.json" "$P/project/package.json"
  npmrc_for "$URL" >"$HOME/.npmrc"
  cd "$P/project"
  npm install --package-lock-only --ignore-scripts --no-audit --no-fund --cache "$P/lock-cache" >/dev/null 2>&1
  entries=$(node -e 'console.log(Object.keys(require("./package-lock.json").packages).length - 1)')

  # Each figure is the best of RUNS runs: noise here only ever adds time.
  unset npm_cold npm_warm lading_cold offline lading_warm lading_total
  for run in $(seq "$RUNS"); do
    log "$server: run $run/$RUNS: npm ci cold then warm; lading restore cold, npm ci --offline, warm restore"
    discard node_modules "$P/npm-cache" "$P/npm-cache2" "$P/lading-cache"
    timed t npm_ci "$P/npm-cache" && best npm_cold "$t"
    discard node_modules && timed t npm_ci "$P/npm-cache" --offline && best npm_warm "$t"
    discard node_modules && timed cold restore "$P/lading-cache" "$P/npm-cache2" "$URL"
    best lading_cold "$cold" && rss=$(peak_mib)
    timed t npm_ci "$P/npm-cache2" --offline && best offline "$t"
    best lading_total "$(echo "$cold + $t" | bc)"
    discard "$P/npm-cache2" && timed t restore "$P/lading-cache" "$P/npm-cache2" "$URL" && best lading_warm "$t"
  done
  fetch_share=$(echo "$npm_cold - $npm_warm" | bc)

  printf '\n%s (%s lockfile entries, best of %s runs):\n' "$server" "$entries" "$RUNS"
  printf '  npm fetch share: npm ci cold %ss - npm ci --offline warm %ss = %ss; lading restore cold %ss: %sx (target 3x)\n' \
    "$npm_cold" "$npm_warm" "$fetch_share" "$lading_cold" "$(ratio "$fetch_share" "$lading_cold")"
  printf '  loopback: npm ci cold %ss; lading restore + npm ci --offline %ss (%ss of it npm): %sx (target > 1x)\n' \
    "$npm_cold" "$lading_total" "$offline" "$(ratio "$npm_cold" "$lading_total")"
  printf '  second restore, warm store, empty npm cache: %ss (target < 0.3 s)\n' "$lading_warm"
  printf '  peak RSS of the cold lading restore: %s MiB (target < 100 MB)\n' "$rss"

  if [ "$LATENCY_MS" != 0 ]; then
    latency_proxy "$URL"
    PURL=${URL/$upstream/127.0.0.1:$pport}
    npmrc_for "$PURL" "$URL" >"$HOME/.npmrc"
    # The lockfile's `resolved` URLs name the server: point them at the proxy.
    sed -i "s#http://$upstream/#http://127.0.0.1:$pport/#g" package-lock.json
    unset proxy_npm proxy_lading proxy_offline proxy_total
    for run in $(seq "$RUNS"); do
      log "$server: run $run/$RUNS through the ${LATENCY_MS} ms proxy"
      discard node_modules "$P/npm-cache3" "$P/npm-cache4" "$P/lading-cache2"
      timed t npm_ci "$P/npm-cache3" && best proxy_npm "$t"
      discard node_modules && timed cold restore "$P/lading-cache2" "$P/npm-cache4" "$PURL"
      best proxy_lading "$cold" && proxy_rss=$(peak_mib)
      timed t npm_ci "$P/npm-cache4" --offline && best proxy_offline "$t"
      best proxy_total "$(echo "$cold + $t" | bc)"
    done
    printf '  +%s ms per request: npm ci cold %ss; lading restore %ss (peak %s MiB) + npm ci --offline %ss: %ss: %sx (target 2x)\n' \
      "$LATENCY_MS" "$proxy_npm" "$proxy_lading" "$proxy_rss" "$proxy_offline" "$proxy_total" "$(ratio "$proxy_npm" "$proxy_total")"
  fi
  cd "$WORK"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
done

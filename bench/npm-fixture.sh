# Shared by bench/restore-npm-large.sh and bench/restore-pnpm-yarn.sh (source it after
# bench/lib.sh, with ROOT, PEERS, VERDACCIO, AWS, LADING, WORK and NPM_BENCH_DEPS set): the
# fixture of about 490 real npm packages, publishing it, and starting Verdaccio or
# `lading serve` (each sets URL and TOKEN).
#
#   FIXTURE, COUNT      the fixture's directory and its number of tarballs
#   publish URL TOKEN   every fixture tarball, as `npm publish` sends it
#   start_verdaccio, start_lading
#   npmrc_for URL...    a user npmrc with the registry (the first URL) and the token for each

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


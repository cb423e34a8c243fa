#!/usr/bin/env bash
# Benchmark (not a test): `lading restore` of a Maven coordinates list against
# `mvn dependency:resolve` with a cold local repository, same artifacts, served by nginx
# (a static repository) and by `lading serve` (pulling through that nginx, warmed first) in
# turn, on loopback and through bench/latency-proxy.py. For each server it prints:
#   - `lading restore` into a cold store vs mvn's fetch share (`mvn dependency:resolve` with a
#     cold local repository minus `mvn -o dependency:resolve` with the repository it left);
#   - `lading restore` + `mvn -o dependency:resolve` vs `mvn dependency:resolve`, cold;
#   - the same through the latency proxy;
#   - a second `lading restore` with a warm store and an empty local repository;
#   - peak RSS of the cold `lading restore`.
#
# Maven Central is out of reach here, so the artifacts are Debian's (/usr/share/maven-repo:
# libmaven-dependency-plugin-java, installed with apt if missing, plus the libraries in
# MAVEN_BENCH_DEPS). A warm-up `mvn dependency:resolve` against file:///usr/share/maven-repo
# finds every file the goal needs (the plugin's own tree, the project's dependencies, their
# parents); those files, with the `.sha1` sidecars Debian does not ship, become the served
# repository, and every one of them is a line of the coordinates list lading restores.
#
#   bash bench/restore-maven.sh [target/release/lading]
#   SERVERS=nginx MAVEN_BENCH_DEPS='junit:junit:4.13.2' bash bench/restore-maven.sh
#
# Environment: SERVERS (default "nginx lading"), LATENCY_MS (default 50; 0 skips the proxy
# runs), MAVEN_BENCH_DEPS (space-separated group:artifact:version from /usr/share/maven-repo),
# JOBS (lading restore --jobs), RUNS (default 3; each figure is the best of them).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${LADING_PEERS_DIR:-$ROOT/.peers}
AWS=$PEERS/venv/bin/aws
MAVEN_REPO=/usr/share/maven-repo
RUNS=${RUNS:-3}
SERVERS=${SERVERS:-nginx lading}
LATENCY_MS=${LATENCY_MS:-50}
MAVEN_BENCH_DEPS=${MAVEN_BENCH_DEPS:-com.google.guava:guava:31.1-jre org.apache.commons:commons-lang3:3.12.0 commons-io:commons-io:2.11.0 commons-codec:commons-codec:1.15 org.apache.httpcomponents:httpclient:4.5.14 org.slf4j:slf4j-api:1.7.32 junit:junit:4.13.2 com.google.code.gson:gson:2.10 org.apache.commons:commons-compress:1.22 org.ow2.asm:asm:9.4 org.apache.maven:maven-core:3.8.7 org.eclipse.jetty:jetty-server:9.4.57.v20241219}
PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.5.0
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v mvn >/dev/null && [ -x "$NGINX" ] && [ -x "$AWS" ] || { echo "run .ci/install-peers first" >&2; exit 1; }
[ -d "$MAVEN_REPO/org/apache/maven/plugins/maven-dependency-plugin/3.5.0" ] || {
  echo "installing libmaven-dependency-plugin-java" >&2
  apt-get install -y -q --no-install-recommends libmaven-dependency-plugin-java >/dev/null
}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
bench_lading "$@"
bench_work

# settings URL [USER TOKEN]: a settings.xml whose `central` (repositories and plugin
# repositories) is URL.
settings() {
  local server=""
  [ -n "${2:-}" ] && server="<servers><server><id>central</id><username>$2</username><password>$3</password></server></servers>"
  cat <<XML
<settings>$server
  <profiles><profile><id>bench</id>
    <repositories><repository><id>central</id><url>$1</url>${4:-}</repository></repositories>
    <pluginRepositories><pluginRepository><id>central</id><url>$1</url>${4:-}</pluginRepository></pluginRepositories>
  </profile></profiles>
  <activeProfiles><activeProfile>bench</activeProfile></activeProfiles>
</settings>
XML
}

# ---- the project and, from a warm-up against Debian's repository, the served files ----------
mkdir -p "$WORK/project" "$WORK/repo"
{
  echo '<project><modelVersion>4.0.0</modelVersion><groupId>bench</groupId><artifactId>app</artifactId><version>1.0</version><packaging>jar</packaging><dependencies>'
  for dep in $MAVEN_BENCH_DEPS; do
    IFS=: read -r g a v <<<"$dep"
    echo "<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
  done
  echo '</dependencies></project>'
} >"$WORK/project/pom.xml"
settings "file://$MAVEN_REPO" "" "" "<releases><checksumPolicy>ignore</checksumPolicy></releases>" >"$WORK/settings-debian.xml"
MVN=(mvn -B -q -ntp -f "$WORK/project/pom.xml")
log "warm-up: $PLUGIN:resolve against $MAVEN_REPO"
"${MVN[@]}" -s "$WORK/settings-debian.xml" -Dmaven.repo.local="$WORK/warmup" "$PLUGIN:resolve" >"$WORK/warmup.log" 2>&1 \
  || { tail -n 40 "$WORK/warmup.log" >&2; exit 1; }
# Every pom/jar the goal read: into the served repository with a .sha1 each, and as a
# coordinates line (the jar's, else the pom's with @pom).
(cd "$WORK/warmup" && find . -type f \( -name '*.jar' -o -name '*.pom' \) | sed 's#^\./##') | sort >"$WORK/files.txt"
while read -r file; do
  mkdir -p "$WORK/repo/$(dirname "$file")"
  cp "$WORK/warmup/$file" "$WORK/repo/$file"
  sha1sum "$WORK/repo/$file" | cut -d' ' -f1 | tr -d '\n' >"$WORK/repo/$file.sha1"
done <"$WORK/files.txt"
python3 - "$WORK/files.txt" >"$WORK/project/dependencies.txt" <<'PY'
import sys
coordinates = {}
for path in open(sys.argv[1]).read().split():
    parts = path.split("/")
    version, artifact, group = parts[-2], parts[-3], ".".join(parts[:-3])
    name = parts[-1]
    stem = f"{artifact}-{version}"
    if not name.startswith(stem):
        continue
    rest = name[len(stem):]
    key = (group, artifact, version)
    if rest == ".pom":
        coordinates.setdefault(key, set())
    else:
        classifier, _, ext = rest.lstrip("-").rpartition(".")
        coordinates.setdefault(key, set()).add((classifier, ext))
for (group, artifact, version), files in sorted(coordinates.items()):
    if not files:
        print(f"{group}:{artifact}:{version}@pom")
    for classifier, ext in sorted(files):
        suffix = f":{classifier}" if classifier else ""
        at = "" if ext == "jar" else f"@{ext}"
        print(f"{group}:{artifact}:{version}{suffix}{at}")
PY
FILES=$(wc -l <"$WORK/files.txt")
COORDS=$(wc -l <"$WORK/project/dependencies.txt")
MB=$(du -sm "$WORK/repo" | cut -f1)

start_nginx() { # -> URL, USER/TOKEN empty
  local port dir=$WORK/nginx
  port=$(free_port)
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
user root;
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server { listen 127.0.0.1:$port; location / { root $WORK/repo; } }
}
CONF
  "$NGINX" -c "$dir/nginx.conf" -p "$dir" >/dev/null 2>&1 &
  PIDS+=($!)
  URL=http://127.0.0.1:$port/
  until curl -fs -o /dev/null "$URL$(head -n 1 "$WORK/files.txt")"; do sleep 0.1; done
  USER_ARGS=() MVN_USER="" TOKEN=unused
}

start_lading() { # lading serve pulling through nginx, warmed by one lading restore and one mvn run
  start_nginx
  local upstream=$URL port
  port=$(free_port)
  "$LADING" serve --data "$WORK/lading-serve" --listen "127.0.0.1:$port" --upstream "maven=$upstream" \
    2>"$WORK/lading-serve.log" &
  PIDS+=($!)
  until curl -fs "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.1; done
  TOKEN=$(AWS_SHARED_CREDENTIALS_FILE=$WORK/lading-serve/credentials AWS_CONFIG_FILE=/dev/null \
    "$AWS" codeartifact get-authorization-token --domain local --endpoint-url "http://127.0.0.1:$port" \
    --region us-east-1 --query authorizationToken --output text)
  URL=http://aws@127.0.0.1:$port/d/local/maven/main/
  MVN_USER=aws
  log "lading: warming the pull-through cache"
  settings "${URL/aws@/}" aws "$TOKEN" >"$WORK/settings.xml"
  restore "$WORK/warm-cache" "$WORK/warm-repo" "$URL" >"$WORK/warm.log" 2>&1 || { cat "$WORK/warm.log" >&2; exit 1; }
  "${MVN[@]}" -s "$WORK/settings.xml" -Dmaven.repo.local="$WORK/warm-repo2" "$PLUGIN:resolve" >"$WORK/warm.log" 2>&1 \
    || { tail -n 40 "$WORK/warm.log" >&2; exit 1; }
}

# restore LADING_CACHE MAVEN_REPO REGISTRY
restore() {
  (cd "$WORK/project" && LADING_CACHE_DIR=$1 MAVEN_TOKEN=$TOKEN /usr/bin/time -v -o "$WORK/time.txt" \
    "$LADING" -q restore --lockfile dependencies.txt --maven-repo "$2" --registry-url "$3" \
    --token-env MAVEN_TOKEN "${JOBS_ARGS[@]}")
}
mvn_resolve() { "${MVN[@]}" -s "$WORK/settings.xml" -Dmaven.repo.local="$1" "${@:2}" "$PLUGIN:resolve"; }

printf 'lading restore vs mvn %s:resolve, %s coordinates, %s files (%s MB), release build, LATENCY_MS=%s\n' \
  "$PLUGIN" "$COORDS" "$FILES" "$MB" "$LATENCY_MS"
for server in $SERVERS; do
  discard "$WORK/lading-serve" "$WORK/nginx" "$WORK/p"
  "start_$server"
  settings "${URL/aws@/}" "$MVN_USER" "$TOKEN" >"$WORK/settings.xml"
  P=$WORK/p
  mkdir -p "$P"

  # Each figure is the best of RUNS runs: noise here only ever adds time.
  unset mvn_cold mvn_warm lading_cold offline total lading_warm
  for run in $(seq "$RUNS"); do
    log "$server: run $run/$RUNS: mvn cold then offline, lading restore cold then warm"
    discard "$P/r1" "$P/r2" "$P/r3" "$P/lading-cache"
    timed t mvn_resolve "$P/r1" && best mvn_cold "$t"
    timed t mvn_resolve "$P/r1" -o && best mvn_warm "$t"
    timed cold restore "$P/lading-cache" "$P/r2" "$URL"
    best lading_cold "$cold" && rss=$(peak_mib)
    timed t mvn_resolve "$P/r2" -o && best offline "$t"
    best total "$(echo "$cold + $t" | bc)"
    timed t restore "$P/lading-cache" "$P/r3" "$URL" && best lading_warm "$t"
  done
  fetch_share=$(echo "$mvn_cold - $mvn_warm" | bc)

  printf '\n%s (best of %s runs):\n' "$server" "$RUNS"
  printf '  mvn fetch share: cold %ss - offline %ss = %ss; lading restore cold %ss: %sx\n' \
    "$mvn_cold" "$mvn_warm" "$fetch_share" "$lading_cold" "$(ratio "$fetch_share" "$lading_cold")"
  printf '  end to end: mvn cold %ss; lading restore + mvn -o %ss (%ss of it mvn): %sx\n' \
    "$mvn_cold" "$total" "$offline" "$(ratio "$mvn_cold" "$total")"
  printf '  second restore, warm store, empty local repository: %ss (target < 0.3 s)\n' "$lading_warm"
  printf '  peak RSS of the cold lading restore: %s MiB (target < 100 MB)\n' "$rss"

  if [ "$LATENCY_MS" != 0 ]; then
    latency_proxy "$URL"
    PURL=${URL/$upstream/127.0.0.1:$pport}
    settings "${PURL/aws@/}" "$MVN_USER" "$TOKEN" >"$WORK/settings.xml"
    unset proxy_mvn proxy_lading proxy_offline proxy_total
    for run in $(seq "$RUNS"); do
      log "$server: run $run/$RUNS through the ${LATENCY_MS} ms proxy"
      discard "$P/r4" "$P/r5" "$P/lading-cache2"
      timed t mvn_resolve "$P/r4" && best proxy_mvn "$t"
      timed cold restore "$P/lading-cache2" "$P/r5" "$PURL" && best proxy_lading "$cold"
      timed t mvn_resolve "$P/r5" -o && best proxy_offline "$t"
      best proxy_total "$(echo "$cold + $t" | bc)"
    done
    printf '  +%s ms per request: mvn cold %ss; lading restore %ss + mvn -o %ss: %ss: %sx\n' \
      "$LATENCY_MS" "$proxy_mvn" "$proxy_lading" "$proxy_offline" "$proxy_total" "$(ratio "$proxy_mvn" "$proxy_total")"
  fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
done

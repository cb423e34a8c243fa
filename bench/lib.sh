# Shared by the restore benchmarks (source it after setting ROOT): the lading binary, a work
# directory cleaned up with every server the script started, and small helpers.
#
#   bench_lading "$@"   LADING: the first argument, else a fresh `cargo build --release`
#   bench_work          WORK (mktemp -d), PIDS (kill them on exit); KEEP_WORK=1 keeps WORK
#   JOBS_ARGS           `--jobs $JOBS` when JOBS is set
#   latency_proxy URL   start bench/latency-proxy.py in front of URL's host:port (LATENCY_MS);
#                       sets `upstream` (that host:port) and `pport` (the proxy's port)
#   timed VAR CMD...    runs CMD (output to $WORK/last.log) after a `sync`, stores the seconds
#   discard PATH...     moves PATHs into $WORK/trash instead of deleting them (see below)
#   best VAR SECONDS    VAR becomes SECONDS if VAR is unset or larger (best of several runs)
#   peak_mib            peak RSS in MiB from $WORK/time.txt (/usr/bin/time -v -o)
#   ratio A B           A / B, two decimals
#   free_port, now, log
#
# Why `discard` and not `rm -rf`: this machine's root is ext4 without a journal, where the
# inode allocator skips every inode freed in the last 60 s (360 s while its block is dirty).
# After an `rm -rf` of a 20 000-file node_modules, every file or directory the next command
# creates scans past those inodes: a 0.4 s restore took 1.2 s, and whichever command ran
# after a deletion paid for it. A CI job starts on a fresh checkout with nothing just
# deleted, so the scripts rename old trees aside and delete them only at exit.

bench_lading() {
  if [ -n "${1:-}" ]; then
    LADING=$(realpath "$1")
  else
    (cd "$ROOT" && cargo build --release --quiet)
    LADING=$ROOT/target/release/lading
  fi
  [ -x /usr/bin/time ] || { echo "installing time" >&2; apt-get install -y -q time >/dev/null; }
}

bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}

bench_work() {
  WORK=$(mktemp -d)
  PIDS=()
  trap bench_cleanup EXIT
}

JOBS_ARGS=()
[ -n "${JOBS:-}" ] && JOBS_ARGS=(--jobs "$JOBS")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

timed() {
  local var=$1 start
  shift
  sync
  start=$(now)
  "$@" >"$WORK/last.log" 2>&1 || { echo "failed: $*" >&2; tail -n 40 "$WORK/last.log" >&2; exit 1; }
  printf -v "$var" '%.3f' "$(echo "$(now) - $start" | bc)"
}

discard() {
  local path
  mkdir -p "$WORK/trash"
  for path in "$@"; do
    [ -e "$path" ] && mv "$path" "$(mktemp -d "$WORK/trash/XXXXXX")/"
  done
  return 0
}

best() {
  if [ -z "${!1:-}" ] || [ "$(echo "$2 < ${!1}" | bc)" = 1 ]; then printf -v "$1" '%s' "$2"; fi
}

peak_mib() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$WORK/time.txt"; }
ratio() { echo "scale=2; $1 / $2" | bc; }

latency_proxy() {
  pport=$(free_port)
  upstream=${1#http://}
  upstream=${upstream#*@}
  upstream=${upstream%%/*}
  : >"$WORK/proxy.log"
  python3 "$ROOT/bench/latency-proxy.py" "$pport" "$upstream" "$LATENCY_MS" >"$WORK/proxy.log" 2>&1 &
  PIDS+=($!)
  until grep -q ready "$WORK/proxy.log"; do sleep 0.1; done
}

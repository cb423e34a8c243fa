# Shared by the restore benchmarks (source it after setting ROOT): the lading binary, a work
# directory cleaned up with every server the script started, and small helpers.
#
#   bench_lading "$@"   LADING: the first argument, else a fresh `cargo build --release`
#   bench_work          WORK (mktemp -d), PIDS (kill them on exit); KEEP_WORK=1 keeps WORK
#   JOBS_ARGS           `--jobs $JOBS` when JOBS is set
#   latency_proxy URL   start bench/latency-proxy.py in front of URL's host:port (LATENCY_MS);
#                       sets `upstream` (that host:port) and `pport` (the proxy's port)
#   free_port, now, log

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

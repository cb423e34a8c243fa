#!/usr/bin/env bash
# Run every fuzz target in fuzz/ for a bounded time (default 60 s each) with cargo-fuzz,
# one target at a time (one libFuzzer job: the machine stays usable).
# cargo-fuzz needs nightly-only flags; on the pinned stable toolchain RUSTC_BOOTSTRAP=1
# enables them. Each target starts from fuzz/corpus/<target>/ (grown by earlier runs,
# not in git) plus the tiny checked-in seeds in fuzz/seeds/<target>/. Crashes land in
# fuzz/artifacts/<target>/ and make the script exit 1; turn each into a unit test in src/.
# Prints one summary line per target: executions, corpus size, crash or not.
#
#   bash bench/fuzz.sh                                  # every target, 60 s each
#   SECONDS_PER_TARGET=600 bash bench/fuzz.sh nupkg     # one target, 10 minutes
#   RSS_LIMIT_MB=2048 (default) caps each target's memory
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-60}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-2048}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^lading-fuzz$')
(cd fuzz && cargo fuzz build)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
summary=()
for target in "${targets[@]}"; do
  echo "== $target (${SECONDS_PER_TARGET}s)" >&2
  mkdir -p "fuzz/corpus/$target"
  corpora=("corpus/$target")
  [ -d "fuzz/seeds/$target" ] && corpora+=("seeds/$target")
  result=ok
  if ! (cd fuzz && cargo fuzz run "$target" "${corpora[@]}" -- \
      -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_LIMIT_MB" -timeout=10 \
      -print_final_stats=1) 2>"$logs/$target"; then
    result=CRASH
    status=1
    tail -n 40 "$logs/$target" >&2
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$target" | tail -n 1)
  corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
  summary+=("$(printf '%-22s %10s execs  corpus %5s  %s' "$target" "${execs:-?}" "$corpus" "$result")")
done
printf '%s\n' "${summary[@]}"
exit $status

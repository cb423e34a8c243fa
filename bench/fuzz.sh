#!/usr/bin/env bash
# Run every fuzz target in fuzz/ for a bounded time (default 60 s each) with cargo-fuzz.
# cargo-fuzz needs nightly-only flags; on the pinned stable toolchain RUSTC_BOOTSTRAP=1
# enables them. Crashes land in fuzz/artifacts/<target>/ and make the script exit 1.
#
#   bash bench/fuzz.sh              # 60 s per target
#   SECONDS_PER_TARGET=600 bash bench/fuzz.sh nupkg
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^lading-fuzz$')
status=0
for target in "${targets[@]}"; do
  echo "== $target (${SECONDS_PER_TARGET}s)" >&2
  if ! cargo fuzz run "$target" -- -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048; then
    status=1
  fi
done
exit $status

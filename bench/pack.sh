#!/usr/bin/env bash
# Benchmark (not a test): `lading pack --format zip` of a tree of build outputs (a zip plus
# SHA256SUMS and a manifest holding sha256 and sha512) against `zip -r` + `sha256sum` +
# `sha512sum` on the same tree, one run each, warm page cache. Prints both times, the CPU
# each used (lading deflates on every core, and also computes sha1 and md5 for the
# manifest), lading's peak RSS, and the ratio. Under load, compare the CPU figures.
#
# The tree is generated deterministically (seeded Python): minified-JS-like text, source
# maps, class-file-like binaries and native-code-like executables (compressible), PNG- and
# jar-like random bytes (incompressible); many small files and some large ones.
#
#   bash bench/pack.sh                  # 1 GiB of outputs
#   SIZE_MB=256 bash bench/pack.sh      # smaller tree; SEED=n for another one
#   bash bench/pack.sh path/to/lading   # a prebuilt binary instead of `cargo build --release`
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE_MB=${SIZE_MB:-1024}
SEED=${SEED:-9}
if [ $# -gt 0 ]; then LADING=$(realpath "$1"); else
  (cd "$ROOT" && cargo build --release --quiet); LADING=$ROOT/target/release/lading; fi
for tool in zip unzip sha256sum sha512sum python3; do
  command -v "$tool" >/dev/null || { echo "bench/pack.sh needs $tool (apt-get install zip unzip)" >&2; exit 1; }
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/tree" "$WORK/zip" "$WORK/lading" "$WORK/home"

python3 - "$WORK/tree" "$SIZE_MB" "$SEED" <<'PY'
import os, random, sys
out, size_mb, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
total = size_mb << 20
words = ["function", "return", "const", "let", "var", "this", "props", "state", "export", "default",
         "import", "from", "async", "await", "null", "undefined", "true", "false", "if", "else", "for",
         "while", "new", "Object", "Array", "Promise", "map", "filter", "reduce", "length", "value",
         "key", "name", "type", "data", "error", "result", "options", "config", "module", "require"]
idents = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz_$") for _ in range(rng.randint(1, 12))) for _ in range(3000)]
punct = ["(", ")", "{", "}", ";", ",", ".", "=", "=>", "+", "&&", "||", "!", "[", "]", ":", "?", " ", "\"", "'"]
lines = ["".join(rng.choices(words * 4 + idents[:400] + punct * 12, k=rng.randint(4, 30))) + "\n" for _ in range(6000)]
js_corpus = "".join(rng.choices(lines, k=120000)).encode()
map_lines = ['"%s":"%s",' % (rng.choice(idents), "".join(rng.choices(["AAAA", "CAAC", "GAAG", "IAAI", ";", ",", "EAAE", "K", "Q", "S"], k=rng.randint(2, 12)))) for _ in range(4000)]
map_corpus = "".join(rng.choices(map_lines, k=60000)).encode()
weights = [64 if b < 0x10 else 16 if b < 0x60 else 2 if b < 0xc0 else 1 for b in range(256)]
blocks = [bytes(rng.choices(range(256), weights=weights, k=rng.randint(4, 24))) for _ in range(800)]
pool = [("Ljava/lang/" + rng.choice(idents) + ";").encode() for _ in range(200)] + [("com/example/" + rng.choice(idents)).encode() for _ in range(200)]
code_corpus = b"".join(b"".join(rng.choices(pool, k=2)) if rng.random() < 0.3 else b"".join(rng.choices(blocks, k=6)) for _ in range(60000))
def slices(corpus, n, head=b""):
    pieces, left = [head], n - len(head)
    while left > 0:
        take = min(left, rng.randint(512, 32 << 10))
        start = rng.randrange(0, len(corpus) - take)
        pieces.append(corpus[start:start + take]); left -= take
    return b"".join(pieces)
kinds = [  # share of the bytes, directory, extension, size range, content
    (0.22, "web/static/js", ".js", (2 << 10, 400 << 10), lambda n: slices(js_corpus, n)),
    (0.08, "web/static/js", ".js.map", (8 << 10, 1 << 20), lambda n: slices(map_corpus, n)),
    (0.05, "web/static/js", ".bundle.js", (2 << 20, 12 << 20), lambda n: slices(js_corpus, n)),
    (0.18, "classes/com/example", ".class", (512, 24 << 10), lambda n: slices(code_corpus, n, b"\xca\xfe\xba\xbe\x00\x00\x00\x41")),
    (0.12, "web/static/media", ".png", (4 << 10, 600 << 10), rng.randbytes),
    (0.30, "lib", ".jar", (1 << 20, 64 << 20), rng.randbytes),
    (0.05, "bin", "", (4 << 20, 24 << 20), lambda n: slices(code_corpus, n, b"\x7fELF")),
]
count = 0
for share, directory, ext, (low, high), make in kinds:
    budget = int(total * share)
    while budget > 0:
        n = min(budget, rng.randint(low, high))
        sub = os.path.join(out, directory, "m%02d" % rng.randrange(40))
        os.makedirs(sub, exist_ok=True)
        path = os.path.join(sub, "f%06d%s" % (count, ext))
        with open(path, "wb") as f:
            f.write(make(n))
        if directory == "bin":
            os.chmod(path, 0o755)
        budget -= n
        count += 1
print(f"{count} files, {total >> 20} MiB", file=sys.stderr)
PY
# Both read the tree from the page cache, not the disk.
find "$WORK/tree" -type f -exec cat {} + >/dev/null

measure() { # out-file command... -> "wall user sys maxrss_kib" in out-file
  local out=$1; shift
  /usr/bin/time -f '%e %U %S %M' -o "$out" "$@"
}
measure "$WORK/zip.time" bash -c '
  cd "$1/tree" && zip -qr -X "$1/zip/outputs-1.0.0.zip" . &&
  cd "$1/zip" && sha256sum outputs-1.0.0.zip >outputs-1.0.0.zip.sha256 &&
  sha512sum outputs-1.0.0.zip >outputs-1.0.0.zip.sha512' _ "$WORK"
measure "$WORK/lading.time" env HOME="$WORK/home" SOURCE_DATE_EPOCH=1700000000 \
  "$LADING" -q pack --format zip --name outputs --version 1.0.0 \
  --base "$WORK/tree" --out "$WORK/lading" '**'

# Both outputs are valid and hold the same files.
unzip -tq "$WORK/lading/outputs-1.0.0.zip" >/dev/null
(cd "$WORK/lading" && sha256sum --quiet -c SHA256SUMS)
python3 - "$WORK/zip/outputs-1.0.0.zip" "$WORK/lading/outputs-1.0.0.zip" <<'PY'
import sys, zipfile
def files(path):
    with zipfile.ZipFile(path) as archive:
        return sorted((i.filename.removeprefix("./"), i.file_size, i.CRC) for i in archive.infolist() if not i.is_dir())
peer, lading = files(sys.argv[1]), files(sys.argv[2])
assert peer == lading, "the two archives hold different files"
PY

read -r zip_wall zip_user zip_sys _ <"$WORK/zip.time"
read -r lading_wall lading_user lading_sys lading_rss <"$WORK/lading.time"
files=$(find "$WORK/tree" -type f | wc -l)
printf 'tree: %d MiB in %d files; %d cores\n' "$SIZE_MB" "$files" "$(nproc)"
printf 'zip -r + sha256sum + sha512sum: %6.2fs (cpu %.2fs), zip %d MiB\n' "$zip_wall" \
  "$(echo "$zip_user + $zip_sys" | bc)" "$(($(stat -c %s "$WORK/zip/outputs-1.0.0.zip") >> 20))"
printf 'lading pack --format zip:       %6.2fs (cpu %.2fs), zip %d MiB, peak RSS %d MiB\n' "$lading_wall" \
  "$(echo "$lading_user + $lading_sys" | bc)" "$(($(stat -c %s "$WORK/lading/outputs-1.0.0.zip") >> 20))" "$((lading_rss >> 10))"
printf 'ratio: %.2fx\n' "$(echo "scale=4; $zip_wall / $lading_wall" | bc)"

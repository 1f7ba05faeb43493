#!/usr/bin/env bash
# Seeds corpus/<target>/ with the captures under grammar-tests/ (not goldens).
set -euo pipefail
cd "$(dirname "$0")"
root=../../grammar-tests
seed() { # target, find predicate…
  local t=$1; shift
  mkdir -p "corpus/$t"
  find "$root" -type f ! -name '*.golden.json' ! -name '*.ctx' ! -name '*.md' "$@" -print0 |
    while IFS= read -r -d '' f; do
      cp "$f" "corpus/$t/$(basename "$(dirname "$f")")__$(basename "$f")"
    done
}
seed addr -path '*addr*'
seed rule -path '*rule*'
seed route -path '*route*'
seed detect_any
seed json -name '*.json'
# The other kinds' captures too: every grammar should survive them.
for t in addr rule route; do seed "$t" -path '*-json*'; done
# Archives: the sample hosts in every format the reader opens, small enough
# for the fuzzer to mutate (plus the nested samples/fleet.tar.gz).
mkdir -p corpus/archive
tmp=$(mktemp -d)
for d in ../../samples/*/; do
  n=$(basename "$d")
  tar -C ../../samples -cf "$tmp/$n.tar" "$n"
  cp "$tmp/$n.tar" corpus/archive/
  gzip -9 -c "$tmp/$n.tar" > "corpus/archive/$n.tar.gz"
  xz -c "$tmp/$n.tar" > "corpus/archive/$n.tar.xz"
  bzip2 -c "$tmp/$n.tar" > "corpus/archive/$n.tar.bz2"
  if command -v zstd >/dev/null; then zstd -q -c "$tmp/$n.tar" > "corpus/archive/$n.tar.zst"; fi
  (cd ../../samples && python3 -c 'import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for root, _, files in os.walk(sys.argv[2]):
        for f in files: z.write(os.path.join(root, f))' "$tmp/$n.zip" "$n")
  cp "$tmp/$n.zip" corpus/archive/
done
cp ../../samples/fleet.tar.gz corpus/archive/
rm -rf "$tmp"
ls corpus | while read -r t; do echo "$t: $(ls "corpus/$t" | wc -l) seeds"; done

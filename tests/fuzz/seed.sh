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
ls corpus | while read -r t; do echo "$t: $(ls "corpus/$t" | wc -l) seeds"; done

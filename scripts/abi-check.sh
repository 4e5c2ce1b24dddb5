#!/usr/bin/env bash
# ABI check: compare the built libespota.so with the baseline kept in the
# repository (libespota/abi/libespota.abi, written by abidw from the public
# headers only). Any difference fails, additions included: a commit that
# changes the ABI updates the baseline in the same commit, so the change is
# reviewed (docs/api.md, "ABI and SONAME").
#
#   scripts/abi-check.sh [BUILD_DIR]            check (default BUILD_DIR: build)
#   scripts/abi-check.sh --update [BUILD_DIR]   rewrite the baseline
#
# Needs abigail-tools (scripts/deps.sh) and a build with debug info
# (RelWithDebInfo or Debug) without sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."
update=0
if [ "${1:-}" = "--update" ]; then
  update=1
  shift
fi
build=${1:-build}
lib=$build/libespota/libespota.so
baseline=libespota/abi/libespota.abi
headers=libespota/include
for tool in abidw abidiff; do
  command -v "$tool" >/dev/null || { echo "abi-check: $tool not found (apt-get install abigail-tools)" >&2; exit 2; }
done
[ -e "$lib" ] || { echo "abi-check: $lib not built" >&2; exit 2; }
if [ "$update" = 1 ]; then
  abidw --headers-dir "$headers" --no-corpus-path --out-file "$baseline" "$lib"
  echo "abi-check: wrote $baseline"
  exit 0
fi
[ -e "$baseline" ] || { echo "abi-check: no baseline $baseline (run with --update)" >&2; exit 2; }
set +e
abidiff --headers-dir2 "$headers" "$baseline" "$lib" >"$build/abidiff.txt" 2>&1
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  cat "$build/abidiff.txt"
  echo "abi-check: libespota.so differs from $baseline (abidiff exit $rc)." >&2
  echo "abi-check: if the change is intended, run scripts/abi-check.sh --update and commit the baseline" >&2
  echo "abi-check: with it; a removal or an incompatible change also needs a new SONAME (docs/api.md)." >&2
  exit 1
fi
echo "abi-check: libespota.so matches $baseline"

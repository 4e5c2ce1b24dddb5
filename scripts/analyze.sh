#!/usr/bin/env bash
# Static analysis: clang-tidy (configuration in .clang-tidy) over
# libespota/src and tools/, and GCC's -fanalyzer over libespota/src.
#
#   scripts/analyze.sh [--build DIR] [--jobs N] [--no-tidy] [--no-gcc]
#
# Findings listed in scripts/analyze-accepted.txt (justified in
# docs/analysis.md) are reported but do not fail the run; any other finding
# makes the script exit 1. Logs: DIR/analyze/{tidy,gcc}.log.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-analyze"
jobs=$(nproc 2>/dev/null || echo 2)
tidy=1 gcc_an=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --no-tidy) tidy=0; shift ;;
    --no-gcc) gcc_an=0; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "analyze.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
accepted="$root/scripts/analyze-accepted.txt"
out="$build/analyze"
mkdir -p "$out"

tidy_bin=$(command -v clang-tidy-14 || command -v clang-tidy || true)

# Findings as "path:line: [check]" lines, relative to the repository.
normalize() {
  sed -nE "s#^$root/##; s#^([^ :]+):([0-9]+):[0-9]+: (warning|error): (.*) \[([^]]+)\]\$#\1:\2: \4 [\5]#p" | sort -u
}

# filter_accepted FILE: print findings not matched by an accepted pattern.
# A pattern is "path [check]" (any line): line numbers move, checks do not.
filter_accepted() {
  local f=$1
  if [ ! -s "$accepted" ]; then cat "$f"; return; fi
  while IFS= read -r line; do
    local path=${line%%:*} check=${line##*[}
    check=${check%]}
    if grep -v '^#' "$accepted" | grep -qxF "$path [$check]"; then
      continue
    fi
    printf '%s\n' "$line"
  done <"$f"
}

status=0

if [ "$tidy" = 1 ]; then
  if [ -z "$tidy_bin" ]; then
    echo "analyze.sh: clang-tidy not found (apt-get install clang-tidy)" >&2
    exit 1
  fi
  echo "== configuring $build (compile_commands.json)"
  cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -DESPOTA_BINDINGS=OFF -DESPOTA_FUZZ=OFF >"$out/configure.log" 2>&1 ||
    { cat "$out/configure.log"; exit 1; }
  mapfile -t files < <(cd "$root" && ls libespota/src/*/*.c tools/*/*.c 2>/dev/null)
  echo "== clang-tidy ($($tidy_bin --version | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -n1)) on ${#files[@]} files"
  printf '%s\n' "${files[@]}" | (cd "$root" && xargs -P "$jobs" -n 1 \
    "$tidy_bin" -p "$build" --quiet) >"$out/tidy.log" 2>&1 || true
  normalize <"$out/tidy.log" >"$out/tidy.findings"
  filter_accepted "$out/tidy.findings" >"$out/tidy.new"
  echo "   $(wc -l <"$out/tidy.findings") findings, $(wc -l <"$out/tidy.new") not accepted"
  sed 's/^/   /' "$out/tidy.new"
  [ -s "$out/tidy.new" ] && status=1
fi

if [ "$gcc_an" = 1 ]; then
  echo "== gcc -fanalyzer ($(gcc -dumpversion)) on libespota/src"
  cflags=(-std=c11 -O1 -fanalyzer -Wall -Wextra -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
    -DESPOTA_BUILDING -I"$root/libespota/include" -I"$root/libespota/src" -I"$root/libespota")
  # shellcheck disable=SC2207
  cflags+=($(pkg-config --cflags libsodium 2>/dev/null || true))
  : >"$out/gcc.log"
  for f in "$root"/libespota/src/*/*.c; do
    if ! gcc "${cflags[@]}" -c "$f" -o /dev/null >>"$out/gcc.log" 2>&1; then
      echo "   gcc could not compile ${f#"$root"/} (see $out/gcc.log)"
      status=1
    fi
  done
  normalize <"$out/gcc.log" >"$out/gcc.findings"
  filter_accepted "$out/gcc.findings" >"$out/gcc.new"
  echo "   $(wc -l <"$out/gcc.findings") findings, $(wc -l <"$out/gcc.new") not accepted"
  sed 's/^/   /' "$out/gcc.new"
  [ -s "$out/gcc.new" ] && status=1
fi

if [ $status -ne 0 ]; then
  echo "== analysis: new findings (fix them, or justify in docs/analysis.md and list in scripts/analyze-accepted.txt)"
else
  echo "== analysis clean (accepted findings: docs/analysis.md)"
fi
exit $status

#!/usr/bin/env bash
# The man pages cover the tools: every option that `espota --help`,
# `espota SUBCOMMAND --help` and `espota-sim --help` print must be named in
# docs/man/espota.1.scd or docs/man/espota-sim.1.scd, so a new option cannot
# land without its man page entry.
#   usage: check.sh SRC_DIR ESPOTA ESPOTA_SIM
set -euo pipefail
src=$1 espota=$2 sim=$3
opts() { "$@" --help 2>/dev/null | grep -oE '(^|[ ,])--[A-Za-z][A-Za-z0-9_-]*' | sed 's/^[ ,]//' | sort -u; }
missing=0
check() {
  local page=$1; shift
  local o
  for o in $(opts "$@"); do
    # scdoc source: the option in bold (*--opt*) or in a list of them
    if ! grep -qE -- "(^|[^A-Za-z0-9_-])${o}([^A-Za-z0-9_-]|$)" "$page"; then
      echo "FAIL: ${*##*/} --help has $o, ${page##*/} does not"; missing=$((missing + 1))
    fi
  done
}
page=$src/docs/man/espota.1.scd
check "$page" "$espota"
for sub in $("$espota" --help | sed -n '/^Subcommands/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p'); do
  check "$page" "$espota" "$sub"
  grep -q "espota\\* $sub\\|\\*espota $sub\\*\\|^\\*espota\\* $sub" "$page" ||
    { echo "FAIL: espota.1.scd does not show the subcommand $sub"; missing=$((missing + 1)); }
done
check "$src/docs/man/espota-sim.1.scd" "$sim"
[ "$missing" -eq 0 ] || { echo "$missing option(s) missing from the man pages"; exit 1; }
echo "man pages name every option of espota, its subcommands and espota-sim"

#!/bin/sh
# Real Xtensa code for the gzip measurement (issue 19): compiles C sources of
# this tree for the ESP8266 (Debian's gcc-xtensa-lx106 with picolibc's headers,
# -Os as Arduino builds), takes the code (.literal + .text) and the read-only
# data of every object, and packs them into an ESP8266 image with the
# project's own tools/scripts/make-image.py. The result, xtensa-code.bin, is
# committed, so nothing at test or bench time needs the compiler; rerun this
# (apt-get install gcc-xtensa-lx106 binutils-xtensa-lx106
# picolibc-xtensa-lx106-elf) to rebuild it.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
CC=${XTENSA_CC:-xtensa-lx106-elf-gcc}
OBJCOPY=${XTENSA_OBJCOPY:-xtensa-lx106-elf-objcopy}
SPECS=${XTENSA_SPECS:-/usr/lib/xtensa-lx106-elf/picolibc.specs}
OUT=${1:-$HERE/xtensa-code.bin}
command -v "$CC" >/dev/null || { echo "$CC not found: apt-get install gcc-xtensa-lx106" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# the sources that need nothing beyond a C library (no sockets, no libsodium)
SOURCES="libespota/src/proto/acks.c libespota/src/analysis/boards.c libespota/src/analysis/device_errors.c
libespota/src/util/errors.c libespota/src/analysis/flashfit.c libespota/src/proto/hint.c libespota/src/analysis/layouts.c
libespota/src/analysis/partitions.c tools/espota/args.c tools/espota/hosts.c tools/espota/output.c"
: >"$TMP/code"
: >"$TMP/rodata"
for s in $SOURCES; do
	o="$TMP/$(echo "$s" | tr / _).o"
	"$CC" --specs="$SPECS" -std=c11 -Os -mlongcalls -I"$SRC/libespota/include" \
		-I"$SRC/libespota/src" -I"$SRC/libespota" -c "$SRC/$s" -o "$o"
	for sec in .literal .text; do
		"$OBJCOPY" -O binary --only-section="$sec" "$o" "$TMP/part" && cat "$TMP/part" >>"$TMP/code"
	done
	for sec in .rodata .rodata.str1.1 .rodata.str1.4; do
		"$OBJCOPY" -O binary --only-section="$sec" "$o" "$TMP/part" && cat "$TMP/part" >>"$TMP/rodata"
	done
done
/usr/bin/python3 "$SRC/tools/scripts/make-image.py" "$OUT" --code "$TMP/code" --rodata "$TMP/rodata" \
	--flash-size 4M
"$CC" --version | head -1 >"$OUT.compiler"

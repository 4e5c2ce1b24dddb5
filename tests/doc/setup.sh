# Setup fragments for the doc-test (tests/doc/doctest.py): a block preceded by
# `<!-- doctest: setup NAME -->` runs setup_NAME first, in the same shell, in
# its scratch directory (a clone-like tree: the repository's top-level entries
# linked, bindings/ copied), inside private network, mount and PID namespaces
# (only loopback; /tmp is an empty tmpfs). $DOCTEST_BUILD is the build tree,
# $DOCTEST_SRC the source tree. setup_images always runs.

# firmware.bin / fw.bin (a valid 329,008-byte ESP8266 image, as in the README),
# littlefs.bin (64 KiB of filesystem-like data) and esp32.bin.
setup_images() {
  /usr/bin/python3 "$DOCTEST_SRC/tools/scripts/make-image.py" firmware.bin >/dev/null
  cp firmware.bin fw.bin
  /usr/bin/python3 "$DOCTEST_SRC/tools/scripts/make-image.py" --chip esp32 esp32.bin >/dev/null
  head -c 65536 /dev/zero | tr '\0' '\377' > littlefs.bin
}

# build/ is the build tree under test (for `cmake --install build ...`).
setup_build() {
  ln -sfn "$DOCTEST_BUILD" build
}

# /tmp/pfx: the build tree installed there (the README's example prefix).
setup_prefix() {
  cmake --install "$DOCTEST_BUILD" --prefix /tmp/pfx >/dev/null
}

# start_sim ADDR [espota-sim options]: one virtual device on ADDR (UDP port
# 8266, or 3232 for --platform esp32), running until the block ends.
start_sim() {
  local addr=$1; shift
  local ready
  ready=$(mktemp /tmp/sim-ready.XXXXXX)
  rm -f "$ready"
  espota-sim --listen "$addr" --fast --lifetime 110 --ready-file "$ready" "$@" >/dev/null 2>&1 &
  for _ in $(seq 100); do [ -s "$ready" ] && return 0; sleep 0.05; done
  echo "doctest setup: espota-sim on $addr did not start" >&2
  return 1
}

# The documentation's example devices, as espota-sim instances on addresses
# of this namespace's own loopback (never a real network): 192.168.1.50 and
# .20 (1 MB ESP8285-like, layout 1M256), 10.0.0.11-13, and esp-garage.local
# (10.0.0.20, password s3cret) through a private /etc/hosts. Files the
# examples name: more.txt, fleet.txt, ~/.ota.pw, .pio/build/d1_mini/*.bin.
setup_devices() {
  local a
  for a in 192.168.1.50 192.168.1.20 10.0.0.11 10.0.0.12 10.0.0.13 10.0.0.20; do
    ip addr add "$a/32" dev lo
  done
  printf '127.0.0.1 localhost\n::1 localhost\n10.0.0.20 esp-garage.local\n' > hosts
  mount --bind hosts /etc/hosts
  start_sim 192.168.1.50 --chip-size 1M --layout 1M256
  start_sim 192.168.1.20 --chip-size 4M --layout 4M1M
  start_sim 10.0.0.11
  start_sim 10.0.0.12
  start_sim 10.0.0.13
  start_sim 10.0.0.20 --password s3cret
  echo 10.0.0.13 > more.txt
  printf '10.0.0.11\n10.0.0.13\n' > fleet.txt
  echo s3cret > "$HOME/.ota.pw"
  mkdir -p .pio/build/d1_mini
  /usr/bin/python3 "$DOCTEST_SRC/tools/scripts/make-image.py" --flash-size 4M .pio/build/d1_mini/firmware.bin >/dev/null
  cp littlefs.bin .pio/build/d1_mini/littlefs.bin
}

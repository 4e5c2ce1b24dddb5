#!/usr/bin/env bash
# Install what libespota needs to build and test, from Debian 12's packages,
# skipping what is already there. Run as root (or with sudo available).
set -euo pipefail

pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libssl-dev libsodium-dev zlib1g-dev
      swig python3 python3-dev python3-pytest python3-jsonschema python3-mypy liblua5.4-dev lua5.4 lua-luv
      libldns-dev valgrind iproute2 scdoc man-db python3-pip python3-build python3-wheel
      abigail-tools bash-completion)
[ "${1:-}" = "--minimal" ] && pkgs=(build-essential cmake pkg-config libssl-dev libsodium-dev zlib1g-dev libldns-dev python3)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

#!/usr/bin/env bash
# Build the Debian packages (debian/) with dpkg-buildpackage -b -us -uc and
# check them with lintian.
#   scripts/build-debs.sh [OUT_DIR]    (default: build-debs/ in the tree)
# The source is copied to OUT_DIR/src first (dpkg-buildpackage writes its
# results to the parent of the source tree), so the .debs land in OUT_DIR.
# The upstream tests are left out (DEB_BUILD_OPTIONS=nocheck; scripts/test.sh
# runs them); ESPOTA_DEB_CHECK=1 runs them inside the package build too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$root/build-debs}" && cd "${1:-$root/build-debs}" && pwd)

# The build tools (only what is missing), as scripts/deps.sh does for the tree.
need=(dpkg-dev debhelper dh-python fakeroot lintian cmake pkg-config libssl-dev libsodium-dev
      zlib1g-dev swig python3-dev libpython3-dev liblua5.4-dev scdoc)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "build-debs: missing packages (run as root to install): ${missing[*]}" >&2; exit 1; }
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The runtime package must be named after the SONAME the build produces.
want_ver=$(sed -n 's/^project(libespota VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
deb_ver=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
[ "$deb_ver" = "$want_ver" ] || { echo "build-debs: debian/changelog is $deb_ver, CMakeLists.txt $want_ver" >&2; exit 1; }

rm -rf "$out/src" "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
mkdir -p "$out/src"
(cd "$root" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -x -C "$out/src"

read -ra opts <<<"${DEB_BUILD_OPTIONS:-}"
opts+=(parallel=2)
[ "${ESPOTA_DEB_CHECK:-0}" = 1 ] || opts+=(nocheck)
start=$(date +%s)
(cd "$out/src" && DEB_BUILD_OPTIONS="${opts[*]}" dpkg-buildpackage -b -us -uc >"$out/build.log" 2>&1) ||
  { tail -40 "$out/build.log" >&2; echo "build-debs: dpkg-buildpackage failed (log: $out/build.log)" >&2; exit 1; }
echo "built in $(($(date +%s) - start)) s:"
(cd "$out" && ls -1 ./*.deb)

pkg=$(sed -n 's/^Package: \(libespota[0-9].*\)/\1/p' "$root/debian/control")
real=$(dpkg-deb -c "$out/${pkg}_${deb_ver}_"*.deb | sed -n 's|.* ./usr/lib/.*/\(libespota\.so\.[0-9]*\(\.[0-9]*\)\{0,1\}\) -> .*|\1|p')
expect="libespota${real#libespota.so.}"
[ "$pkg" = "$expect" ] || { echo "build-debs: SONAME $real wants package $expect, debian/control has $pkg" >&2; exit 1; }
head -1 "$root/debian/symbols" | grep -q "^$real $pkg " ||
  { echo "build-debs: debian/symbols does not start with '$real $pkg'" >&2; exit 1; }

# New public symbols show as a dpkg-gensymbols diff in build.log (removed ones
# fail the build). ESPOTA_UPDATE_SYMBOLS=1 writes the built list back to
# debian/symbols (then review the diff: a new symbol's version is the release
# that adds it).
if grep -q 'new symbols appeared' "$out/build.log"; then
  if [ "${ESPOTA_UPDATE_SYMBOLS:-0}" = 1 ]; then
    cp "$out/src/debian/$pkg/DEBIAN/symbols" "$root/debian/symbols"
    echo "debian/symbols updated from the build"
  else
    echo "note: new public symbols, not yet in debian/symbols (ESPOTA_UPDATE_SYMBOLS=1 adds them; see $out/build.log)"
  fi
fi

if command -v lintian >/dev/null; then
  echo "lintian:"
  (cd "$out" && lintian --fail-on error,warning --suppress-tags-from-file "$root/debian/lintian-accepted" ./*.deb) ||
    { echo "build-debs: lintian found warnings or errors (see above)" >&2; exit 1; }
  echo "lintian: no errors or warnings (accepted tags: debian/lintian-accepted, explained in debian/README.source)"
fi

#!/usr/bin/env bash
# The Python package (bindings/python/pyproject.toml) against an installed
# libespota: install the build tree into a prefix, then with only
# PKG_CONFIG_PATH pointing there
#   pip install --no-build-isolation --no-index --prefix ...   and
#   python3 -m build --no-isolation   (sdist, then the wheel from the sdist),
# and from a clean environment import the pip-installed module (version = the
# library's, RUNPATH = the prefix's libdir) and upload with it to the
# installed espota-sim on 127.0.0.1.
#   usage: run.sh BUILD_DIR WORK_DIR SRC_DIR PYTHON
set -euo pipefail
bin=$1 work=$2 src=$3 python=$4
rm -rf "$work"; mkdir -p "$work"
prefix=$work/prefix
sim_pid=
cleanup() { if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT
step() { echo "== $*"; }
# What is under test is the packaging, not the optimiser: compiling the SWIG
# wrapper at -O0 takes about 6 s for both builds instead of 16 s.
export CFLAGS="${CFLAGS:-} -O0 -g0"

step "cmake --install $bin --prefix $prefix"
timeout 120 cmake --install "$bin" --prefix "$prefix" >"$work/install.log"
pc=$(dirname "$(find "$prefix" -name libespota.pc | head -1)")
export PKG_CONFIG_PATH=$pc
libver=$(pkg-config --modversion libespota)
libdir=$(pkg-config --variable=libdir libespota)

# A copy of the package sources (pip and setuptools write build/ and
# *.egg-info next to them): bindings/python and the shared espota.i above it.
mkdir -p "$work/src/bindings"
cp -r "$src/bindings/python" "$work/src/bindings/python"
cp "$src/bindings/espota.i" "$work/src/bindings/"
rm -rf "$work/src/bindings/python/build" "$work/src/bindings/python/"*.egg-info

step "pip install --no-build-isolation --no-index --prefix $work/py ./bindings/python"
(cd "$work/src" && timeout 300 "$python" -m pip install -q --no-build-isolation --no-index --no-cache-dir \
  --root-user-action=ignore --prefix "$work/py" ./bindings/python)
site=$(dirname "$(find "$work/py" -name __init__.py -path '*/espota/*' | head -1)")
site=${site%/espota}
ext=$(find "$site/espota" -name '_espota_c*.so')
rp=$(readelf -d "$ext" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
echo "   $site; RUNPATH ${rp:-none}"
[ "$rp" = "$libdir" ] || { echo "FAIL: the extension's RUNPATH is '$rp', not $libdir" >&2; exit 1; }

if "$python" -c 'import build' 2>/dev/null; then
  step "python3 -m build --no-isolation (sdist, then the wheel from it)"
  (cd "$work/src" && timeout 300 "$python" -m build --no-isolation --outdir "$work/dist" bindings/python >"$work/build.log" 2>&1) ||
    { tail -20 "$work/build.log" >&2; echo "FAIL: python3 -m build" >&2; exit 1; }
  ls "$work/dist/espota-$libver.tar.gz" "$work/dist/espota-$libver-"*.whl
  grep -q "/swig/espota.i$" <<<"$(tar tzf "$work/dist/espota-$libver.tar.gz")" ||
    { echo "FAIL: the sdist lacks swig/espota.i" >&2; exit 1; }
  grep -q '_espota_c.*\.so' <<<"$("$python" -m zipfile -l "$work/dist/espota-$libver-"*.whl)" ||
    { echo "FAIL: the wheel lacks the extension" >&2; exit 1; }
else
  echo "FAIL: python3-build is not installed (scripts/deps.sh installs it)" >&2; exit 1
fi

step "upload with the pip-installed module to the installed espota-sim (clean environment)"
timeout 30 "$python" "$src/tools/scripts/make-image.py" "$work/firmware.bin" --size 200000 --flash-size 1M >/dev/null
mkdir -p "$work/device"
timeout 60 env -i PATH=/usr/bin:/bin "$prefix/bin/espota-sim" --layout 1M64 --chip-size 1M --port 0 \
  --ready-file "$work/ready" --out-dir "$work/device" --max-uploads 1 --lifetime 50 --fast &
sim_pid=$!
for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
[ -s "$work/ready" ] || { echo "FAIL: espota-sim did not become ready" >&2; exit 1; }
port=$(awk '{print $3; exit}' "$work/ready")
(cd / && timeout 60 env -i PATH=/usr/bin:/bin PYTHONPATH="$site" PYTHONDONTWRITEBYTECODE=1 "$python" -c '
import sys, espota
fw, port, want = sys.argv[1], int(sys.argv[2]), sys.argv[3]
assert espota.__file__.startswith(sys.argv[4]), espota.__file__
assert espota.__version__ == want, (espota.__version__, want)
print("   espota", espota.__version__, "from", espota.__file__)
print("  ", espota.check(fw, layout="1M64").verdict)
with espota.Session() as s:
    r = s.upload(fw, "127.0.0.1", port)
print("   uploaded", r)
' "$work/firmware.bin" "$port" "$libver" "$site/")
cmp "$work/firmware.bin" "$work/device/app.bin"
timeout 20 tail --pid="$sim_pid" -f /dev/null || true
sim_pid=
echo "== Python package OK"

"""Build the espota extension against an installed libespota (pkg-config).

The SWIG interface is ../espota.i (with python/espota_python.i) in the source
tree, or swig/ in an sdist (copied there by the sdist command below). SWIG
reads the installed headers, so the module matches the library it links.
"""

import os
import shlex
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
TREE_SWIG = os.path.normpath(os.path.join(HERE, ".."))
SDIST_SWIG = os.path.join(HERE, "swig")
PKG = "libespota"


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, PKG], check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        sys.exit("espota: pkg-config not found (apt-get install pkg-config)")
    except subprocess.CalledProcessError as e:
        sys.exit(f"espota: pkg-config {' '.join(args)} {PKG} failed: {e.stderr.strip()}\n"
                 "Install libespota first (cmake --install, or the libespota-dev package); for another "
                 "prefix set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig.")
    return out.strip()


def swig_dir():
    for d in (SDIST_SWIG, TREE_SWIG):
        if os.path.isfile(os.path.join(d, "espota.i")) and \
                os.path.isfile(os.path.join(d, "python", "espota_python.i")):
            return d
    sys.exit("espota: the SWIG interface (espota.i, python/espota_python.i) is missing")


# Where the loader looks anyway: no RUNPATH for these.
SYSTEM_LIBDIRS = {"/lib", "/usr/lib", "/lib64", "/usr/lib64"}


class BuildExt(build_ext):
    """Run SWIG first: the wrapper into build_temp, the proxy _espota.py into the package."""

    def run(self):
        inc = pkg_config("--variable=includedir")
        libdir = pkg_config("--variable=libdir")
        d = swig_dir()
        os.makedirs(self.build_temp, exist_ok=True)
        wrap = os.path.join(self.build_temp, "espota_wrap.c")
        pkgdir = os.path.join(self.build_lib, "espota")
        os.makedirs(pkgdir, exist_ok=True)
        cmd = ["swig", "-python", "-module", "_espota", "-interface", "_espota_c",
               "-I" + inc, "-I" + d, "-outdir", pkgdir, "-o", wrap, os.path.join(d, "espota.i")]
        self.announce(" ".join(cmd), level=2)
        try:
            subprocess.run(cmd, check=True)
        except FileNotFoundError:
            sys.exit("espota: swig not found (apt-get install swig)")
        if self.inplace:
            self.copy_file(os.path.join(pkgdir, "_espota.py"), os.path.join(HERE, "espota", "_espota.py"))
        for ext in self.extensions:
            ext.sources = [wrap]
            ext.extra_compile_args += shlex.split(pkg_config("--cflags"))
            ext.extra_link_args += shlex.split(pkg_config("--libs"))
            multiarch = getattr(sys.implementation, "_multiarch", "")
            if libdir not in SYSTEM_LIBDIRS and libdir not in {f"/usr/lib/{multiarch}", f"/lib/{multiarch}"}:
                ext.runtime_library_dirs = [libdir]   # a prefix outside the loader's path
        super().run()


class Sdist(sdist):
    """Carry the SWIG interface, which lives one level up in the tree, as swig/."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        if os.path.isdir(SDIST_SWIG):
            src = SDIST_SWIG
        else:
            src = TREE_SWIG
        out = os.path.join(base_dir, "swig")
        self.mkpath(os.path.join(out, "python"))
        self.copy_file(os.path.join(src, "espota.i"), os.path.join(out, "espota.i"))
        for part in ("espota_python.i", "discover_python.i"):
            self.copy_file(os.path.join(src, "python", part), os.path.join(out, "python", part))


setup(
    version=pkg_config("--modversion"),
    ext_modules=[Extension("espota._espota_c", sources=[])],
    cmdclass={"build_ext": BuildExt, "sdist": Sdist},
)

#!/usr/bin/env python3
"""Run libespota's `espota` where PlatformIO expects espota.py.

PlatformIO's espota uploader runs `"$PYTHONEXE" "$UPLOADER" $UPLOADERFLAGS -f
$SOURCE`, so its UPLOADER must be a Python script. This one replaces itself
with the espota binary, passing every argument on unchanged (espota accepts
espota.py's options). The binary is $ESPOTA_BIN when set (espota_upload.py
sets it from the project option `custom_espota`), else `espota` on PATH.
"""

import os
import shutil
import subprocess
import sys


def main() -> int:
    exe = os.environ.get("ESPOTA_BIN") or shutil.which("espota")
    if not exe:
        sys.stderr.write("espota_launcher: no `espota` on PATH and ESPOTA_BIN is not set "
                         "(install libespota, or set custom_espota = /path/to/espota)\n")
        return 1
    argv = [exe, *sys.argv[1:]]
    if os.name == "posix":
        os.execv(exe, argv)     # same process: exit status and signals pass straight through
    return subprocess.call(argv)


if __name__ == "__main__":
    sys.exit(main())

"""PlatformIO extra script: upload_protocol = espota through libespota's espota.

    [env:ota]
    upload_protocol = espota
    upload_port = 192.168.1.50
    upload_flags = --auth=s3cret          ; kept: PlatformIO prepends them
    extra_scripts = post:integrations/platformio/espota_upload.py
    ; custom_espota = /usr/local/bin/espota   (default: espota on PATH)

It must run as a post: script: the platform's builder sets UPLOADER to the
core's espota.py, and this replaces only UPLOADER with espota_launcher.py (a
Python file, since the command stays "$PYTHONEXE" "$UPLOADER" ...). The
platform's flags (--debug --progress -i $UPLOAD_PORT, -s/--spiffs for
uploadfs) and the user's upload_flags / $UPLOAD_FLAGS stay as PlatformIO
builds them. See docs/cli.md, "PlatformIO".
"""

import inspect
import os

Import("env")  # noqa: F821  (SCons builtin in extra scripts)


def _here():
    # SCons runs this file with exec(); __file__ is not set, the code object knows its file.
    return os.path.dirname(os.path.abspath(inspect.getframeinfo(inspect.currentframe()).filename))


if env.subst("$UPLOAD_PROTOCOL") == "espota":  # noqa: F821
    env.Replace(UPLOADER=os.path.join(_here(), "espota_launcher.py"))  # noqa: F821
    espota_bin = env.GetProjectOption("custom_espota", "")  # noqa: F821
    if espota_bin:
        env["ENV"]["ESPOTA_BIN"] = espota_bin  # noqa: F821

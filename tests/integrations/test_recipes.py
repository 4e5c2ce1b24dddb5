"""PlatformIO and Arduino recipes (integrations/) run against espota-sim.

The command lines are built the way PlatformIO and arduino-cli build them
(recipes.py) from the upstream recipes quoted below, then run for real: the
image must arrive intact on the virtual device. $ESPOTA_CLI and $ESPOTA_SIM
name the built binaries; `espota` is put on PATH, as an install would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "cli"))

from images import filesystem  # noqa: E402
from recipes import (arduino_upload_command, platformio_env, run_extra_script,  # noqa: E402
                     split_quoted)
from simctl import Sim, esp32_image, esp8266_image  # noqa: E402

PIO = os.path.join(ROOT, "integrations", "platformio")
ARDUINO = os.path.join(ROOT, "integrations", "arduino")
PYTHON = sys.executable
FAST = ["--port", "0", "--fast", "--lifetime", "60", "--max-uploads", "1"]

# The upload recipes of the cores' platform.txt (quoted for the test):
# esp8266/Arduino f946290 (2026-03) ...
ESP8266_PLATFORM = r'''
tools.esptool.cmd={runtime.platform.path}/tools/python3/python3
tools.esptool.network_cmd={runtime.platform.path}/tools/python3/python3
tools.esptool.upload.network_pattern="{network_cmd}" -I "{runtime.platform.path}/tools/espota.py" -i "{serial.port}" -p "{network.port}" "--auth={network.password}" -f "{build.path}/{build.project_name}.bin"
'''
# ... and espressif/arduino-esp32 2.0.6 (00d8a39); 3.x quotes "--auth=...".
ESP32_PLATFORM = r'''
tools.esptool_py.network_cmd=python3 "{runtime.platform.path}/tools/espota.py" -r
tools.esptool_py.network_cmd.windows="{runtime.platform.path}/tools/espota.exe" -r
tools.esp_ota.cmd=python3 "{runtime.platform.path}/tools/espota.py" -r
tools.esp_ota.cmd.windows="{runtime.platform.path}/tools/espota.exe" -r
tools.esptool_py.upload.network_pattern={network_cmd} -i "{serial.port}" -p "{network.port}" "--auth={network.password}" -f "{build.path}/{build.project_name}.bin"
tools.esp_ota.upload.protocol=network
tools.esp_ota.upload.pattern={cmd} -i {upload.port.address} -p {upload.port.properties.port} --auth={upload.field.password} -f "{build.path}/{build.project_name}.bin"
'''
ESP32_3X_PATTERN = ('tools.esp_ota.upload.pattern={cmd} -i {upload.port.address} -p {upload.port.properties.port} '
                    '"--auth={upload.field.password}" -f "{build.path}/{build.project_name}.bin"')


@pytest.fixture(scope="module")
def bindir(tmp_path_factory):
    d = tmp_path_factory.mktemp("bin")
    os.symlink(os.environ["ESPOTA_CLI"], d / "espota")
    return str(d)


@pytest.fixture
def sim():
    s = Sim()
    yield s
    s.cleanup()


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_device(sim, platform, password):
    """A virtual device: ESP8266 as a 1 MB board with the 1M64 layout, or an ESP32."""
    args = ["--platform", platform, *FAST] + (["--password", password] if password else [])
    if platform == "esp8266":
        args += ["--layout", "1M64", "--chip-size", "1M"]
    sim.start(args)


def images(tmp_path, platform):
    fw = tmp_path / "firmware.bin"
    fw.write_bytes(esp8266_image(200000) if platform == "esp8266" else esp32_image(200000))
    fs = tmp_path / "littlefs.bin"
    fs.write_bytes(filesystem(65536))
    return str(fw), str(fs)


def run_env(bindir):
    e = dict(os.environ)
    e.pop("ESPOTA_PASSWORD", None)
    e["PATH"] = bindir + os.pathsep + e.get("PATH", "")
    e["TERM"] = "dumb"
    return e


# -- PlatformIO -------------------------------------------------------------------
PIO_CASES = [
    # platform, sim platform, uploadfs, device password, upload_flags
    ("espressif8266", "esp8266", False, None, ["--port=%(port)s"]),
    ("espressif8266", "esp8266", False, "s3cret", ["--port=%(port)s", "--auth=s3cret", "--host_port=%(hp)s"]),
    ("espressif8266", "esp8266", True, "s3cret", ["--port=%(port)s", "--auth=s3cret"]),
    ("espressif32", "esp32", False, None, ["--port=%(port)s"]),
    ("espressif32", "esp32", False, "s3cret", ["--port=%(port)s", "--auth=s3cret", "--host_port=%(hp)s"]),
    ("espressif32", "esp32", True, "s3cret", ["-p", "%(port)s", "-a", "s3cret"]),
]


@pytest.mark.parametrize("pio_platform,sim_platform,uploadfs,password,flags", PIO_CASES)
def test_platformio_espota_protocol(tmp_path, sim, bindir, pio_platform, sim_platform, uploadfs, password, flags):
    fw, fs = images(tmp_path, sim_platform)
    start_device(sim, sim_platform, password)
    values = {"port": sim.port, "hp": free_tcp_port()}
    env = platformio_env(pio_platform, "127.0.0.1", fs if uploadfs else fw, PYTHON,
                         upload_flags=[f % values for f in flags], uploadfs=uploadfs,
                         project_options={"custom_espota": os.environ["ESPOTA_CLI"]})
    run_extra_script(os.path.join(PIO, "espota_upload.py"), env)
    assert env["UPLOADER"] == os.path.join(PIO, "espota_launcher.py")
    assert env["ENV"]["ESPOTA_BIN"] == os.environ["ESPOTA_CLI"]
    cmd = env.subst("$UPLOADCMD")
    # the user's flags first, then the platform's, as PlatformIO orders them
    assert cmd.startswith(f'"{PYTHON}" "{env["UPLOADER"]}" {" ".join(f % values for f in flags)} --debug --progress -i 127.0.0.1'), cmd
    e = run_env(bindir)
    e.update(env["ENV"])
    r = subprocess.run(["/bin/sh", "-c", cmd], env=e, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (cmd, r.stdout, r.stderr)
    got = sim.fs_image() if uploadfs else sim.app_image()
    assert got == open(fs if uploadfs else fw, "rb").read()
    inv = sim.events("invitation")[-1]
    assert inv["cmd"] == (100 if uploadfs else 0)
    if "--host_port=%(hp)s" in flags:   # the device was told to connect back to that port
        assert inv["port"] == values["hp"]


def test_platformio_launcher_without_espota(tmp_path):
    """No espota anywhere: the launcher says so and fails (no silent success)."""
    e = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    r = subprocess.run([PYTHON, os.path.join(PIO, "espota_launcher.py"), "-i", "127.0.0.1", "-f", "x.bin"],
                       env=e, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "no `espota` on PATH" in r.stderr


def test_platformio_custom_upload_command(tmp_path, sim, bindir):
    """The documented upload_protocol = custom recipe keeps $UPLOAD_FLAGS."""
    fw, _ = images(tmp_path, "esp8266")
    start_device(sim, "esp8266", "pw")
    env = platformio_env("espressif8266", "127.0.0.1", fw, PYTHON,
                         upload_flags=[f"--port={sim.port}", "--auth=pw"],
                         upload_command="espota $UPLOAD_FLAGS -i $UPLOAD_PORT -f $SOURCE")
    cmd = env.subst("$UPLOADCMD")
    assert cmd == f"espota --port={sim.port} --auth=pw -i 127.0.0.1 -f {fw}"
    r = subprocess.run(["/bin/sh", "-c", cmd], env=run_env(bindir), capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert sim.app_image() == open(fw, "rb").read()


# -- Arduino ----------------------------------------------------------------------
def local(name):
    with open(os.path.join(ARDUINO, name)) as f:
        return f.read()


ARDUINO_CASES = [
    # core, platform.txt, tool, pattern key, password
    ("esp8266", ESP8266_PLATFORM, "esptool", "upload.network_pattern", "s3cret"),
    ("esp8266", ESP8266_PLATFORM, "esptool", "upload.network_pattern", ""),
    ("esp32", ESP32_PLATFORM, "esptool_py", "upload.network_pattern", "s3cret"),
    ("esp32", ESP32_PLATFORM, "esp_ota", "upload.pattern", "s3cret"),
    ("esp32", ESP32_PLATFORM, "esp_ota", "upload.pattern", ""),
    ("esp32", ESP32_PLATFORM + ESP32_3X_PATTERN + "\n", "esp_ota", "upload.pattern", "two words"),
]


@pytest.mark.parametrize("core,platform_txt,tool,key,password", ARDUINO_CASES)
def test_arduino_platform_local(tmp_path, sim, bindir, core, platform_txt, tool, key, password):
    fw, _ = images(tmp_path, core)
    start_device(sim, core, password)
    build = tmp_path / "build"
    build.mkdir()
    os.replace(fw, build / "Blink.ino.bin")
    sample = {
        "runtime.platform.path": "/home/u/.arduino15/packages/x/hardware/x/9.9.9",
        "build.path": str(build), "build.project_name": "Blink.ino",
        # IDE 1.x / legacy network upload
        "serial.port": "127.0.0.1", "network.port": str(sim.port), "network.password": password,
        # pluggable discovery (IDE 2.x, arduino-cli)
        "upload.port.address": "127.0.0.1", "upload.port.properties.port": str(sim.port),
        "upload.field.password": password,
    }
    argv = arduino_upload_command(platform_txt, local(f"{core}.platform.local.txt"), tool, key, sample)
    assert argv[0] == "espota", argv
    assert not any("{" in a for a in argv), argv
    if " " in password:
        assert f"--auth={password}" in argv
    r = subprocess.run(argv, env=run_env(bindir), capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (argv, r.stdout, r.stderr)
    assert sim.app_image() == (build / "Blink.ino.bin").read_bytes()


def test_split_quoted_like_arduino_cli():
    assert split_quoted('This \'is an\' "Hello World!" example') == ["This", "is an", "Hello World!", "example"]
    assert split_quoted('"--auth=" -f "a b/c.bin"') == ["--auth=", "-f", "a b/c.bin"]
    with pytest.raises(ValueError):
        split_quoted('"open')

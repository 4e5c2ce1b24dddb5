"""How PlatformIO and the Arduino tools turn their recipes into a command.

PlatformIO (platformio-core builder/main.py, platform-espressif8266/32
builder/main.py, upload_protocol = espota):
  1. the platform sets UPLOADER (the core's espota.py),
     UPLOADERFLAGS = --debug --progress -i $UPLOAD_PORT (+ -s on ESP8266,
     --spiffs on ESP32, for uploadfs) and
     UPLOADCMD = "$PYTHONEXE" "$UPLOADER" $UPLOADERFLAGS -f $SOURCE;
  2. core: if UPLOAD_FLAGS (upload_flags): UPLOADERFLAGS = [$UPLOAD_FLAGS] + UPLOADERFLAGS;
     upload_command replaces UPLOADCMD;
  3. post: extra scripts run (ours replaces UPLOADER);
  SCons substitutes the variables (a list joins with spaces) and runs the
  line with the shell.
Arduino (arduino-cli): properties of platform.txt, then platform.local.txt
over them, `key.linux` over `key` on Linux; the upload tool's
`tools.<tool>.*` also as top-level keys; `{key}` expanded repeatedly; the
line split by SplitQuotedString (spaces; '"' or "'" at the start and end of a
run of words groups them; no escapes) and executed without a shell.
"""

from __future__ import annotations

import re
import shlex


# -- PlatformIO -------------------------------------------------------------------
class FakeSConsEnv:
    """The part of a PlatformIO SCons environment the espota upload path and
    our extra script use: Replace, Append, Prepend, subst, GetProjectOption,
    ["ENV"], in SCons' semantics for strings and lists."""

    def __init__(self, variables: dict, project_options: dict | None = None):
        self.vars = dict(variables)
        self.vars.setdefault("ENV", {})
        self.options = project_options or {}

    def Replace(self, **kw):
        self.vars.update(kw)

    def Append(self, **kw):
        for k, v in kw.items():
            self.vars[k] = list(self.vars.get(k, [])) + list(v)

    def Prepend(self, **kw):
        for k, v in kw.items():
            self.vars[k] = list(v) + list(self.vars.get(k, []))

    def __contains__(self, k):
        return k in self.vars

    def __getitem__(self, k):
        return self.vars[k]

    def get(self, k, default=None):
        return self.vars.get(k, default)

    def GetProjectOption(self, name, default=None):
        return self.options.get(name, default)

    def subst(self, s: str, depth: int = 0) -> str:
        if depth > 20:
            raise RuntimeError("substitution loop")

        def one(m):
            v = self.vars.get(m.group(1) or m.group(2), "")
            if isinstance(v, (list, tuple)):
                v = " ".join(str(x) for x in v)
            return self.subst(str(v), depth + 1)
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, s)


def platformio_env(platform: str, upload_port: str, source: str, python: str,
                   upload_flags: list[str] | None = None, uploadfs: bool = False,
                   upload_command: str | None = None, project_options: dict | None = None):
    """The environment after steps 1 and 2 above, for espressif8266/espressif32."""
    env = FakeSConsEnv({"UPLOAD_PROTOCOL": "espota", "UPLOAD_PORT": upload_port, "SOURCE": source,
                        "PYTHONEXE": python}, project_options)
    env.Replace(UPLOADER=f"/pio/packages/framework-arduino{platform}/tools/espota.py",
                UPLOADERFLAGS=["--debug", "--progress", "-i", "$UPLOAD_PORT"],
                UPLOADCMD='"$PYTHONEXE" "$UPLOADER" $UPLOADERFLAGS -f $SOURCE')
    if uploadfs:
        env.Append(UPLOADERFLAGS=["-s"] if platform == "espressif8266" else ["--spiffs"])
    if upload_flags:
        env.Replace(UPLOAD_FLAGS=list(upload_flags))
        env.Prepend(UPLOADERFLAGS=["$UPLOAD_FLAGS"])
    if upload_command:
        env.Replace(UPLOADCMD=upload_command)
    return env


def run_extra_script(path: str, env: FakeSConsEnv) -> None:
    """Run a PlatformIO extra script as SCons does (exec with Import)."""
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    exec(code, {"Import": lambda *names: None, "env": env, "__name__": "SCons.Script"})


# -- Arduino ----------------------------------------------------------------------
def parse_properties(text: str) -> dict:
    props = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        props[k.strip()] = v.strip()
    return props


def arduino_upload_command(platform_txt: str, local_txt: str, tool: str, pattern_key: str,
                           sample: dict, os_suffix: str = "linux") -> list[str]:
    props = parse_properties(platform_txt)
    props.update(parse_properties(local_txt))
    for k in [k for k in props if k.endswith("." + os_suffix)]:
        props[k[: -len(os_suffix) - 1]] = props[k]
    props.update(sample)
    prefix = f"tools.{tool}."
    for k, v in list(props.items()):
        if k.startswith(prefix):
            props[k[len(prefix):]] = v
    line = props[pattern_key]
    for _ in range(10):
        new = re.sub(r"\{([^{}]+)\}", lambda m: props.get(m.group(1), m.group(0)), line)
        if new == line:
            break
        line = new
    return split_quoted(line)


def split_quoted(src: str, quotes: str = "\"'") -> list[str]:
    """arduino-cli's properties.SplitQuotedString(src, `"'`, false)."""
    out, esc, arg = [], "", ""
    for cur in src.split(" "):
        if not esc:
            if not cur or cur[0] not in quotes:
                if cur.strip():
                    out.append(cur)
                continue
            esc, cur, arg = cur[0], cur[1:], ""
        if not cur or cur[-1] != esc:
            arg += cur + " "
            continue
        arg += cur[:-1]
        if arg.strip():
            out.append(arg)
        esc = ""
    if esc:
        raise ValueError(f"invalid quoting, no closing {esc}")
    return out


def shell_words(cmd: str) -> list[str]:
    return shlex.split(cmd)

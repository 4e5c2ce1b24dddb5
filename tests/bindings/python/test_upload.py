"""Uploads through the Python binding against espota-sim --fast."""

from __future__ import annotations

import io
import os
import threading
import time
import traceback

import pytest

import espota


def test_success_byte_exact(sim, firmware):
    dev = sim()
    seen = []
    res = espota.upload(firmware, "127.0.0.1", dev.port, progress=seen.append)
    assert isinstance(res, espota.UploadResult)
    assert res.phase == "done" and res.acked == res.total == len(firmware)
    assert isinstance(res.device_mss, int) and res.device_mss > 0  # loopback's, with --fast
    assert dev.app_image() == firmware
    assert all(isinstance(p, espota.Progress) for p in seen)
    assert seen[0].acked == 0 and seen[-1].phase == "done" and seen[-1].fraction == 1.0


@pytest.mark.parametrize("kind", ["bytearray", "memoryview", "path", "pathlike", "file"])
def test_image_sources(sim, small_firmware, tmp_path, kind):
    dev = sim()
    path = tmp_path / "fw.bin"
    path.write_bytes(small_firmware)
    image = {"bytearray": bytearray(small_firmware), "memoryview": memoryview(small_firmware),
             "path": str(path), "pathlike": path, "file": io.BytesIO(small_firmware)}[kind]
    with espota.Session() as s:
        s.upload(image, "127.0.0.1", dev.port)
    assert dev.app_image() == small_firmware


@pytest.mark.parametrize("transfer", ["pipelined", "stop-and-wait", "stream"])
def test_transfer_modes(sim, small_firmware, transfer):
    dev = sim()
    res = espota.upload(small_firmware, "127.0.0.1", dev.port, transfer=transfer)
    assert res.phase == "done" and res.acked == len(small_firmware)
    assert dev.app_image() == small_firmware


def test_transfer_mode_unknown(sim, small_firmware):
    with pytest.raises(espota.InvalidArgument, match="transfer"):
        espota.upload(small_firmware, "127.0.0.1", 9, transfer="fast")


def test_filesystem_target(sim):
    dev = sim()
    data = os.urandom(8192)
    espota.upload(data, "127.0.0.1", dev.port, target="fs")
    assert dev.fs_image() == data


def test_password_and_auth_callback(sim, small_firmware):
    dev = sim("--password", "s3cret")
    asked = []

    def auth(host, scheme):
        asked.append((host, scheme))
        return "s3cret"

    with espota.Session() as s:
        res = s.upload(small_firmware, "127.0.0.1", dev.port, auth=auth)
        assert asked == [("127.0.0.1", "md5")] and res.scheme == "md5"
        res = s.upload(small_firmware, "127.0.0.1", dev.port, password=b"s3cret")
        assert res.phase == "done"
    assert dev.app_image() == small_firmware


def test_wrong_password_raises_auth_error(sim, small_firmware):
    dev = sim("--password", "right")
    with pytest.raises(espota.AuthError) as ei:
        espota.upload(small_firmware, "127.0.0.1", dev.port, password="wrong")
    e = ei.value
    assert isinstance(e, espota.Error)
    assert e.code == espota.AuthError.code == -7 and e.name == "ESPOTA_EAUTH"
    assert e.detail and str(e) == e.detail
    assert e.result is not None and e.phase == e.result.phase
    # no password at all, and an auth callback with no credential
    with pytest.raises(espota.AuthError):
        espota.upload(small_firmware, "127.0.0.1", dev.port)
    with pytest.raises(espota.AuthError):
        espota.upload(small_firmware, "127.0.0.1", dev.port, auth=lambda host, scheme: None)
    assert dev.app_image() is None


class Boom(Exception):
    pass


@pytest.mark.parametrize("where", ["progress", "auth"])
def test_callback_exception_propagates_unchanged(sim, small_firmware, where):
    dev = sim("--password", "pw")
    raised = Boom("from the callback")

    def cb(*args):
        raise raised

    kwargs = {"progress": cb} if where == "progress" else {"auth": cb}
    with pytest.raises(Boom) as ei:
        espota.upload(small_firmware, "127.0.0.1", dev.port, **kwargs)
    assert ei.value is raised
    # the traceback still shows the callback's frame
    assert any(f.name == "cb" for f in traceback.extract_tb(ei.value.__traceback__))
    assert dev.app_image() is None


def test_auth_callback_wrong_type(sim, small_firmware):
    dev = sim("--password", "pw")
    with pytest.raises(TypeError):
        espota.upload(small_firmware, "127.0.0.1", dev.port, auth=lambda h, s: 1234)


def test_progress_false_cancels(sim, firmware):
    dev = sim()
    calls = []

    def progress(p):
        calls.append(p)
        return p.phase != "transfer"

    with pytest.raises(espota.CancelledError) as ei:
        espota.upload(firmware, "127.0.0.1", dev.port, progress=progress)
    assert ei.value.code == -12
    assert dev.app_image() is None


def test_cancel_from_another_thread(sim, small_firmware):
    dev = sim("--fault", "no-connect")
    s = espota.Session()
    timer = threading.Timer(0.3, s.cancel)
    timer.start()
    try:
        with pytest.raises(espota.CancelledError):
            s.upload(small_firmware, "127.0.0.1", dev.port, timeouts={"connect": 30})
    finally:
        timer.cancel()
        s.close()


def test_session_rules(sim, small_firmware):
    dev = sim()
    s = espota.Session()

    def reenter(p):
        s.upload(small_firmware, "127.0.0.1", dev.port)

    with pytest.raises(RuntimeError):
        s.upload(small_firmware, "127.0.0.1", dev.port, progress=reenter)
    s.close()
    assert s.closed
    with pytest.raises(ValueError):
        s.upload(small_firmware, "127.0.0.1", dev.port)
    s.cancel()  # harmless when closed


def test_invalid_arguments(small_firmware):
    with espota.Session() as s:
        with pytest.raises(espota.InvalidArgument) as ei:
            s.upload(small_firmware, "127.0.0.1", 8266, target="flash")
        assert isinstance(ei.value, ValueError)
        with pytest.raises(espota.InvalidArgument):
            s.upload(small_firmware, "127.0.0.1", 8266, timeouts={"bogus": 1})
        with pytest.raises(TypeError):
            s.upload(12345, "127.0.0.1", 8266)
        with pytest.raises(TypeError):
            s.upload(small_firmware, "127.0.0.1", 8266, progress="not callable")


def test_timeout_is_builtin_timeout(sim, small_firmware):
    dev = sim("--fault", "no-invite-reply")
    with pytest.raises(TimeoutError) as ei:  # the builtin
        espota.upload(small_firmware, "127.0.0.1", dev.port,
                      timeouts={"invite": 0.1, "invite_attempts": 2})
    assert isinstance(ei.value, espota.TimeoutError) and isinstance(ei.value, espota.Error)
    assert ei.value.code == -5 and ei.value.phase


def test_device_error_decoded(sim, firmware):
    dev = sim("--chip-size", "1M", "--header-flash-size", "4M")
    with pytest.raises(espota.DeviceError) as ei:
        espota.upload(firmware, "127.0.0.1", dev.port)
    e = ei.value
    assert e.code == -6 and e.device_code == 8
    assert e.device_name and e.device_text and e.explanation
    assert e.device_error["code"] == 8


def test_preflight_refuses(sim, firmware):
    dev = sim()
    with pytest.raises(espota.NoFitError) as ei:
        espota.upload(firmware, "127.0.0.1", dev.port, target="fs", fit={"layout": "1M256", "target": "fs"})
    assert ei.value.report is not None and ei.value.report.device_error == 4
    assert dev.events("invitation") == [] or dev.fs_image() is None


def test_unknown_board_warns_and_uploads(sim, firmware):
    # the image and the device decide; an unknown board is a warning, never a raise
    dev = sim("--layout", "1M64", "--chip-size", "1M")
    with pytest.warns(UserWarning, match="unknown board 'no_such_board_xyz'"):
        espota.upload(firmware, "127.0.0.1", dev.port, fit={"board": "no_such_board_xyz"})
    assert dev.app_image() == firmware


def test_unknown_board_strict_refuses(sim, firmware):
    dev = sim("--layout", "1M64", "--chip-size", "1M")
    with pytest.warns(UserWarning), pytest.raises(espota.NoFitError) as ei:
        espota.upload(firmware, "127.0.0.1", dev.port, fit={"board": "no_such_board_xyz", "strict": True})
    assert ei.value.report is not None and ei.value.report.decision == "refuse"
    assert dev.app_image() is None

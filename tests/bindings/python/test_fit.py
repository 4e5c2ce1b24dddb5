"""inspect() / check() / layouts() / boards(): the pure flash-fit API."""

from __future__ import annotations

import pytest

import espota
import images


def test_inspect(firmware):
    info = espota.inspect(firmware)
    assert isinstance(info, espota.ImageInfo)
    assert info.kind == "esp8266-arduino" and info.platform == "esp8266"
    assert info.file_size == 329008 and info.app_offset == 0x1000
    assert len(info.segments) == 5 and isinstance(info.segments[0], espota.Segment)
    assert info.checksum_ok is True and info.header_flash_size == 1 << 20
    assert not info.gzip and not info.signed


def test_inspect_broken_image():
    with pytest.raises(espota.ImageError) as ei:
        espota.inspect(b"\xe9" * 100)
    assert ei.value.code == -9 and "segment" in ei.value.detail


def test_firmware_as_fs_is_refused(firmware):
    report = espota.check(firmware, layout="1M256", target="fs")
    assert isinstance(report, espota.FitReport)
    assert report.verdict == "refused" and not report.ok
    assert report.device_error == 4 and report.when == "before-data"
    assert "FIRMWARE_AS_FS" in report.mistakes and isinstance(report.mistakes, frozenset)
    assert report.size == 329008 and report.limit == 262144
    assert report.shrink_by == 329008 - 262144 and report.margin == 262144 - 329008
    assert "CHIP_SIZE" in report.assumptions
    assert report.summary and report.advice
    text = str(report)
    assert "Verdict:" in text and "refused" in text and report.summary in text


def test_fits_and_board(firmware):
    report = espota.check(firmware, board="esp01_1m", running_size=329008)
    assert report.verdict in ("fits", "warning") and report.ok and report.device_error == 0
    assert report.limit >= 329008 and report.margin >= 0 and report.shrink_by == 0


def test_preflight_decision_from_the_library():
    # --board sonoff assumes layout 1M64; a 512,000-byte image refused only
    # because the running sketch is assumed as large: a warning, with the figure
    big = images.arduino_esp8266(512000)
    r = espota.check(big, board="SONOFF")
    assert r.verdict == "refused" and r.decision == "warn"
    assert r.running_size_max == 450560
    assert any("(512000 bytes)" in n for n in r.decision_notes)
    assert espota.check(big, board="sonoff", running_size="300000").decision == "send"
    facts = espota.check(big, layout="1M64", running_size="0x70000")
    assert facts.decision == "refuse" and facts.running_size_max == 0
    # an unknown board warns (with the near miss) and checks with what the image tells
    with pytest.warns(UserWarning, match="did you mean d1_mini_pro"):
        assert espota.check(big, board="d1_mini_pr").decision == "warn"
    with pytest.raises(espota.InvalidArgument, match="running_size"):
        espota.check(big, layout="1M64", running_size="12Q")


def test_check_arguments(firmware):
    with pytest.raises(espota.InvalidArgument):
        espota.check(firmware, layout="no-such-layout")
    with pytest.warns(UserWarning, match="unknown board 'no-such-board'"):
        r = espota.check(firmware, board="no-such-board")
    assert r.decision == "warn" and any("board unknown" in n for n in r.decision_notes)
    with pytest.warns(UserWarning):
        assert espota.check(firmware, board="no-such-board", strict=True).decision == "refuse"
    with pytest.raises(espota.InvalidArgument):
        espota.check(firmware, target="flash")
    dev = espota.FitDevice(layout="1M256", target="fs", chip_size="1M")
    assert espota.check(firmware, device=dev).device_error == 4


def test_esp32_partitions():
    # not an ESP32 image, but the partition tables must load
    fw = images.arduino_esp8266(16384)
    for part in ("default", "min_spiffs", "# Name, Type, SubType, Offset, Size\nnvs, data, nvs, 0x9000, 0x5000\n"
                 "otadata, data, ota, 0xe000, 0x2000\napp0, app, ota_0, 0x10000, 0x140000\n"
                 "app1, app, ota_1, 0x150000, 0x140000\n"):
        espota.check(fw, platform="esp32", partitions=part)
    with pytest.raises(espota.InvalidArgument):
        espota.check(fw, platform="esp32", partitions="no-such-scheme")


def test_tables():
    layouts = espota.layouts()
    assert any(l.name == "1M256" and l.flash_size == 1 << 20 for l in layouts)
    boards = espota.boards()
    assert any(b.name == "esp01_1m" for b in boards)
    assert espota.strerror(-7) and espota.error_name(-7) == "ESPOTA_EAUTH"
    assert espota.error_retryable(-5) and not espota.error_retryable(-7)  # a timeout, a wrong password
    assert espota.__version__ == "%d.%d.%d" % espota.version()

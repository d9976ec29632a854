"""Unit tests for the harness itself. No QEMU is started.

If these fail, the QEMU tests cannot be trusted: a log parser that silently
finds nothing, or exit codes read wrongly, would make every boot test lie.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

import harness
from harness import BootConfig, BootResult, boot_logs, disk_image, inspections, log, paths, qemu
from harness.exit_codes import parse_exit_codes, qemu_status

# A slice of real-looking serial output: OVMF clears the screen and moves the
# cursor with ANSI escapes and ends lines with \r\n; our records are in between.
OVMF_AND_KERNEL = (
    "BdsDxe: loading Boot0001 \"UEFI QEMU HARDDISK QM00001 \" from PciRoot(0x0)/Pci(0x1F,0x2)\r\n"
    "BdsDxe: starting Boot0001 \"UEFI QEMU HARDDISK QM00001 \" from PciRoot(0x0)/Pci(0x1F,0x2)\r\n"
    "\x1b[2J\x1b[01;01H\x1b[0m\x1b[35m\x1b[40m[INFO  loader] started firmware=\"EDK II\" rev=0x10000\r\n"
    "\x1b[0m[DEBUG elf] segment vaddr=0xffffffff80000000 size=4096\r\n"
    "[WARN  mm] low memory regions=3\r\n"
    "not a record [INFO  kernel] in the middle\r\n"
    "[INFO kernel] one space is not the format\r\n"
    "[info  kernel] lowercase level is not the format\r\n"
    "[ERROR elf] bad header rule=\"must be EM_X86_64\" machine=0x3e\r\n"
    "[INFO  kernel] ready chapter=01-boot\r\n"
)


# ---------------------------------------------------------------------------
# Log parsing
# ---------------------------------------------------------------------------


def test_strip_ansi_removes_escapes_and_carriage_returns():
    raw = "\x1b[2J\x1b[01;01H\x1b[0m\x1b(B\x1bc[INFO  kernel] ready\r\n\tnext\r\n"
    assert log.strip_ansi(raw) == "[INFO  kernel] ready\n\tnext\n"


def test_records_are_found_among_firmware_output():
    records = log.parse_records(OVMF_AND_KERNEL)
    assert [(r.level, r.subsystem) for r in records] == [
        ("INFO", "loader"),
        ("DEBUG", "elf"),
        ("WARN", "mm"),
        ("ERROR", "elf"),
        ("INFO", "kernel"),
    ]
    # Line numbers refer to the cleaned log, 1-based.
    assert records[0].line_number == 3
    assert records[-1].line_number == 10


def test_level_padding_is_removed_and_restored_by_str():
    record = log.parse_line("[WARN  mm] low memory regions=3")
    assert record is not None
    assert record.level == "WARN"
    assert record.subsystem == "mm"
    assert record.message == "low memory regions=3"
    assert str(record) == "[WARN  mm] low memory regions=3"


def test_wrongly_padded_levels_are_not_records():
    assert log.parse_line("[INFO kernel] one space") is None
    assert log.parse_line("[PANIC  kernel] two spaces") is None
    assert log.parse_line("[PANIC Kernel] uppercase subsystem") is None
    assert log.parse_line("[PANIC kernel]no space after bracket") is None
    assert log.parse_line("[PANIC kernel] ").message == ""


def test_fields_plain_and_quoted():
    record = log.parse_line('[ERROR elf] bad header rule="must be EM_X86_64" machine=0x3e')
    assert record.fields == {"rule": "must be EM_X86_64", "machine": "0x3e"}


def test_fields_escapes_empty_values_and_non_fields():
    fields = log.parse_fields(r'path="EFI\\BOOT" msg="say \"hi\"" empty= x==1 a=b=c plain words 5=no')
    assert fields == {
        "path": "EFI\\BOOT",
        "msg": 'say "hi"',
        "empty": "",
        "x": "=1",
        "a": "b=c",
    }


def test_fields_key_must_start_a_word():
    # "id=" inside "pid=..." belongs to "pid", not to a separate key "id".
    assert log.parse_fields("pid=7") == {"pid": "7"}
    assert log.parse_fields("value:x=1") == {}


def test_int_field_accepts_hex_and_decimal():
    record = log.parse_line("[INFO  mm] map base=0xFFFF800000000000 pages=0042 n=-3 bad=12z")
    assert log.int_field(record, "base") == 0xFFFF800000000000
    assert log.int_field(record, "pages") == 42
    assert log.int_field(record, "n") == -3
    with pytest.raises(ValueError, match="bad='12z'"):
        log.int_field(record, "bad")
    with pytest.raises(KeyError, match="missing"):
        log.int_field(record, "missing")


def test_find_record_and_records_for():
    records = log.parse_records(OVMF_AND_KERNEL)
    ready = log.find_record(records, "kernel", "ready")
    assert ready is not None and ready.fields["chapter"] == "01-boot"
    assert log.find_record(records, "kernel", "holding") is None
    assert log.find_record(records, "elf").level == "DEBUG"  # empty prefix: first of subsystem
    assert [r.level for r in log.records_for(records, "elf")] == ["DEBUG", "ERROR"]


# ---------------------------------------------------------------------------
# Exit codes
# ---------------------------------------------------------------------------

SYNTHETIC_HEADER = """
// kSuccess = 0x99 in a comment must not count
inline constexpr uint16_t kDebugExitPort = 0x501;
enum class ExitCode : uint8_t {
    kSuccess = 0x20,  // status 65
    kFailure = 7u,
};
"""


def test_exit_codes_from_synthetic_header():
    codes = parse_exit_codes(SYNTHETIC_HEADER)
    assert (codes.port, codes.success, codes.failure) == (0x501, 0x20, 7)
    assert (codes.success_status, codes.failure_status) == (65, 15)


@pytest.mark.parametrize(
    "broken",
    [
        SYNTHETIC_HEADER.replace("kFailure = 7u,", ""),
        SYNTHETIC_HEADER.replace("kFailure = 7u,", "kFailure = 7u, kFailure = 8,"),
        SYNTHETIC_HEADER.replace("kFailure = 7u", "kFailure = 0x20"),
        SYNTHETIC_HEADER.replace("enum class ExitCode", "enum Other"),
        SYNTHETIC_HEADER.replace("kDebugExitPort", "kPort"),
    ],
    ids=["missing", "duplicate", "equal", "no-enum", "no-port"],
)
def test_exit_code_parser_rejects_broken_headers(broken):
    with pytest.raises(ValueError):
        parse_exit_codes(broken)


def test_exit_codes_from_real_header():
    codes = harness.load_exit_codes()
    header = paths.EXIT_CODES_HEADER.read_text()
    # The numbers really come from the header text...
    assert f"kSuccess = {codes.success:#04x}" in header
    assert f"kFailure = {codes.failure:#04x}" in header
    assert f"kDebugExitPort = {codes.port:#x}" in header
    # ...and map to statuses QEMU never produces on its own (0 = reset, 1 = error).
    assert codes.success_status == qemu_status(codes.success) == codes.success * 2 + 1
    assert len({codes.success_status, codes.failure_status, 0, 1}) == 4


def test_exit_status_to_outcome():
    codes = harness.load_exit_codes()
    assert qemu._outcome_for_status(codes.success_status, codes) == "success"
    assert qemu._outcome_for_status(codes.failure_status, codes) == "failure"
    assert qemu._outcome_for_status(0, codes) == "reset"
    assert qemu._outcome_for_status(1, codes) == "qemu-error"


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _option_values(cmd: list[str], option: str) -> list[str]:
    return [cmd[i + 1] for i, arg in enumerate(cmd[:-1]) if arg == option]


def test_command_for_tests(tmp_path):
    codes = harness.load_exit_codes()
    cmd = harness.qemu_command(BootConfig(chapter="01-boot", memory="512M", smp=2), tmp_path)
    drives = _option_values(cmd, "-drive")
    assert f"if=pflash,format=raw,unit=0,readonly=on,file={paths.OVMF_CODE}" in drives
    # The writable variable store is the per-run copy, never the system file.
    assert f"if=pflash,format=raw,unit=1,file={tmp_path / 'OVMF_VARS.fd'}" in drives
    assert f"format=raw,file={tmp_path / 'disk.img'}" in drives
    assert not any(str(paths.OVMF_VARS) in d for d in drives)
    assert not any(str(paths.BUILD_DIR) in d for d in drives)
    # Exactly the devices listed: no default CD-ROM for OVMF to try first.
    assert "-nodefaults" in cmd
    assert _option_values(cmd, "-device") == ["VGA", f"isa-debug-exit,iobase={codes.port:#x},iosize=0x04"]
    assert _option_values(cmd, "-m") == ["512M"]
    assert _option_values(cmd, "-smp") == ["2"]
    assert _option_values(cmd, "-machine") == ["q35"]
    assert _option_values(cmd, "-nic") == ["none"]
    assert "-no-reboot" in cmd
    assert f"file,id=serial0,path={tmp_path / 'serial.log'}" in _option_values(cmd, "-chardev")
    assert _option_values(cmd, "-qmp") == [f"unix:{tmp_path / 'qmp.sock'},server=on,wait=off"]
    assert "-S" not in cmd and "-gdb" not in cmd


def test_command_interactive_with_gdb_and_extra_args(tmp_path):
    config = BootConfig(chapter="01-boot", machine="pc", gdb_port=23456, extra_args=["-d", "int"])
    cmd = harness.qemu_command(config, tmp_path, interactive=True)
    assert _option_values(cmd, "-serial") == ["mon:stdio"]
    # QMP only to learn how QEMU ended (run_chapter.py): quit or guest reset.
    assert _option_values(cmd, "-qmp") == [f"unix:{tmp_path / 'qmp.sock'},server=on,wait=off"]
    assert "-chardev" not in cmd
    assert _option_values(cmd, "-gdb") == ["tcp:127.0.0.1:23456"]
    assert "-S" in cmd
    assert _option_values(cmd, "-machine") == ["pc"]
    assert cmd[-2:] == ["-d", "int"]


def test_a_run_with_monitor_readings_keeps_qemu_alive_after_the_exit_code(tmp_path):
    """The exit byte goes to a file (isa-debugcon) instead of ending QEMU, so the
    monitor can read the machine the kernel left; a held run keeps the exit device."""
    codes = harness.load_exit_codes()
    inspected = harness.qemu_command(BootConfig(chapter="01-boot", cmdline="", monitor_commands=["info tlb"]), tmp_path)
    assert _option_values(inspected, "-device") == ["VGA", f"isa-debugcon,iobase={codes.port:#x},chardev=exitcode"]
    assert f"file,id=exitcode,path={tmp_path / 'exit-code.bin'}" in _option_values(inspected, "-chardev")
    held = harness.qemu_command(BootConfig(chapter="01-boot", hold=True, monitor_commands=["info tlb"]), tmp_path)
    assert _option_values(held, "-device") == ["VGA", f"isa-debug-exit,iobase={codes.port:#x},iosize=0x04"]
    assert qemu._exit_byte(tmp_path / "exit-code.bin") is None
    (tmp_path / "exit-code.bin").write_bytes(b"")
    assert qemu._exit_byte(tmp_path / "exit-code.bin") is None
    (tmp_path / "exit-code.bin").write_bytes(bytes([codes.failure]))
    assert qemu._exit_byte(tmp_path / "exit-code.bin") == codes.failure


def test_command_doubles_commas_in_paths(tmp_path):
    run_dir = tmp_path / "a,b"
    cmd = harness.qemu_command(BootConfig(chapter="01-boot"), run_dir)
    assert f"format=raw,file={tmp_path}/a,,b/disk.img" in _option_values(cmd, "-drive")


# ---------------------------------------------------------------------------
# Run directory preparation (mtools on a small FAT image; still no QEMU)
# ---------------------------------------------------------------------------


@pytest.fixture
def fake_build(tmp_path, monkeypatch):
    """A build/<chapter>/disk.img made with mformat, in a temporary build tree."""
    if shutil.which("mformat") is None:
        pytest.fail("mtools is required by the harness (mformat not found)")
    build = tmp_path / "build"
    image = build / "99-fake" / "disk.img"
    image.parent.mkdir(parents=True)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    subprocess.run(["mformat", "-i", str(image), "-C", "-f", "1440", "::"], check=True, env=env)
    disk_image.esp_write(image, "EFI/BOOT/BOOTX64.EFI", b"MZ loader")
    disk_image.esp_write(image, "kernel.elf", b"\x7fELF kernel")
    disk_image.esp_write(image, "cmdline.txt", b"verbose")
    monkeypatch.setattr(paths, "BUILD_DIR", build)
    return image


def test_prepare_run_dir_edits_only_the_copy(fake_build, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = BootConfig(
        chapter="99-fake",
        hold=True,
        esp_files={"kernel.elf": b"junk", "EFI/BOOT/BOOTX64.EFI": None, "extra/dir/new.bin": b"\x00\x01"},
    )
    files = harness.prepare_run_dir(config, run_dir)
    assert files.vars.read_bytes() == paths.OVMF_VARS.read_bytes()
    assert os.access(files.vars, os.W_OK)
    assert disk_image.esp_read(files.image, "kernel.elf") == b"junk"
    assert disk_image.esp_read(files.image, "EFI/BOOT/BOOTX64.EFI") is None
    assert disk_image.esp_read(files.image, "extra/dir/new.bin") == b"\x00\x01"
    # hold keeps the image's own words and adds "hold".
    assert disk_image.esp_read(files.image, "cmdline.txt") == b"verbose hold"
    # The build tree is untouched.
    assert disk_image.esp_read(fake_build, "kernel.elf") == b"\x7fELF kernel"
    assert disk_image.esp_read(fake_build, "cmdline.txt") == b"verbose"


def test_prepare_run_dir_explicit_cmdline(fake_build, tmp_path):
    files = harness.prepare_run_dir(BootConfig(chapter="99-fake", cmdline="a b=c"), tmp_path)
    assert disk_image.esp_read(files.image, "cmdline.txt") == b"a b=c"


def test_prepare_run_dir_without_build(fake_build, tmp_path):
    with pytest.raises(harness.MissingBuildError, match="run `make` first"):
        harness.prepare_run_dir(BootConfig(chapter="98-not-built"), tmp_path)


# ---------------------------------------------------------------------------
# Serial tail, results
# ---------------------------------------------------------------------------


def test_serial_tail_handles_partial_lines_and_split_utf8(tmp_path):
    path = tmp_path / "serial.log"
    tail = qemu._SerialTail(path)
    assert tail.poll() == []  # file not created yet
    with open(path, "wb") as out:
        out.write(b"\x1b[0m[INFO  kernel] caf\xc3")
        out.flush()
        assert tail.poll() == []  # no complete line yet
        out.write(b"\xa9 x=1\r\n[PANIC kernel] no newline")
        out.flush()
        new = tail.poll()
        assert [r.message for r in new] == ["caf\u00e9 x=1"]
    last = tail.finish()
    assert [(r.level, r.message, r.line_number) for r in last] == [("PANIC", "no newline", 2)]
    assert len(tail.records) == 2


def _result(outcome: str, log_text: str = OVMF_AND_KERNEL) -> BootResult:
    return BootResult(
        config=BootConfig(chapter="01-boot"),
        log=log_text,
        records=log.parse_records(log_text),
        exit_status=None,
        outcome=outcome,
        elapsed=1.5,
        stderr="qemu-system-x86_64: some warning\n",
    )


def test_result_helpers_and_assert_outcome():
    result = _result("failure")
    assert result.record("kernel", "ready").fields == {"chapter": "01-boot"}
    assert result.tail(2).splitlines() == [
        '[ERROR elf] bad header rule="must be EM_X86_64" machine=0x3e',
        "[INFO  kernel] ready chapter=01-boot",
    ]
    harness.assert_outcome(result, "failure")
    harness.assert_outcome(result, {"failure", "reset"})
    with pytest.raises(AssertionError) as caught:
        harness.assert_outcome(result, "success")
    message = str(caught.value)
    assert "expected outcome success, got failure" in message
    assert "[INFO  kernel] ready chapter=01-boot" in message
    assert "some warning" in message
    with pytest.raises(ValueError):
        harness.assert_outcome(result, "succeeded")  # typo in the expectation

    # The ordinary end: ready, and nothing at WARN or above (this log has both kinds).
    with pytest.raises(AssertionError, match=r"\[WARN  mm\] low memory"):
        harness.assert_ready_without_warnings(result)
    clean = "[INFO  loader] started\n[INFO  kernel] ready chapter=01-boot\n"
    harness.assert_ready_without_warnings(_result("success", clean))
    with pytest.raises(AssertionError):
        harness.assert_ready_without_warnings(_result("success", "[INFO  loader] started\n"))


# ---------------------------------------------------------------------------
# QMP client against a fake QEMU
# ---------------------------------------------------------------------------


def _fake_qmp_server(path: Path, seen: list[dict]) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        reader = conn.makefile("rb")

        def send(obj):
            conn.sendall(json.dumps(obj).encode() + b"\n")

        send({"QMP": {"version": {}, "capabilities": []}})
        for line in reader:
            request = json.loads(line)
            seen.append(request)
            name = request["execute"]
            if name == "human-monitor-command":
                # An event arriving before the answer must be skipped.
                send({"event": "RESUME", "timestamp": {}})
                send({"return": "output of " + request["arguments"]["command-line"], "id": request["id"]})
            elif name == "quit":
                send({"return": {}, "id": request["id"]})
                break
            elif name == "qmp_capabilities":
                send({"return": {}, "id": request["id"]})
            else:
                send({"error": {"class": "CommandNotFound", "desc": "nope"}, "id": request["id"]})
        conn.close()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_qmp_client(tmp_path):
    path = tmp_path / "qmp.sock"
    seen: list[dict] = []
    thread = _fake_qmp_server(path, seen)
    with harness.QMPClient(path, timeout=5).connect(wait=5) as client:
        assert client.hmp("info mem") == "output of info mem"
        assert client.events and client.events[0]["event"] == "RESUME"
        with pytest.raises(harness.QMPError, match="CommandNotFound"):
            client.execute("no-such-command")
        client.quit()
    thread.join(5)
    assert [r["execute"] for r in seen] == [
        "qmp_capabilities", "human-monitor-command", "no-such-command", "quit"
    ]


def test_qmp_connect_gives_up_when_socket_never_appears(tmp_path):
    with pytest.raises(harness.QMPError, match="not available"):
        harness.QMPClient(tmp_path / "absent.sock").connect(wait=0.2)


def test_size_field_reads_klog_sizes():
    from harness.log import parse_line, size_field

    record = parse_line("[INFO  t] x a=4KiB b=10GiB c=100B d=3MiB e=4kb")
    assert [size_field(record, k) for k in "abcd"] == [4096, 10 << 30, 100, 3 << 20]
    with pytest.raises(ValueError):
        size_field(record, "e")
    with pytest.raises(KeyError):
        size_field(record, "missing")
    # The book's diagrams and log:MiB markers read sizes with the same function.
    assert log.size_value("2MiB") == 2 << 20 and log.size_value("1TiB") is None and log.size_value("4 KiB") is None


def test_loader_memory_map_reads_the_dump():
    from harness.log import loader_memory_map, parse_records

    log = (
        "[INFO  loader] map type=conventional start=0x1000 pages=2 attribute=0xf\n"
        "[INFO  kernel] map type=ignored start=0x0 pages=1\n"
        "[INFO  loader] map type=acpi-nvs start=0xf000 pages=1 attribute=0xf\n"
    )
    assert loader_memory_map(parse_records(log)) == [("conventional", 0x1000, 0x3000), ("acpi-nvs", 0xF000, 0x10000)]


# ---------------------------------------------------------------------------
# Boots kept by the book step and read back in the same make test
# ---------------------------------------------------------------------------


def test_kept_log_names_are_the_books(monkeypatch):
    monkeypatch.syspath_prepend(str(harness.REPO_ROOT / "book" / "_ext"))
    from kernelbook.bootlogs import boot_log_name

    for cmdline in ["", "loader.dump-map", "test.fault=all  log=debug", "x/y z"]:
        for memory in ["", "4G", "512M"]:
            assert boot_logs.log_name("01-boot", cmdline, memory) == boot_log_name("01-boot", cmdline, memory)


def test_a_kept_boot_is_read_back_only_in_its_own_session(fake_build, tmp_path, monkeypatch):
    out = tmp_path / "logs"
    out.mkdir()
    config = BootConfig("99-fake", cmdline="test.fault=all")
    booted = BootResult(config=config, log=OVMF_AND_KERNEL, records=log.parse_records(OVMF_AND_KERNEL),
                        exit_status=71, outcome="failure", elapsed=3.4)

    monkeypatch.delenv(boot_logs.SESSION_ENV, raising=False)
    boot_logs.save(out, config, booted)
    assert boot_logs.reuse(config, out) is None, "no session: every boot is a boot"

    monkeypatch.setenv(boot_logs.SESSION_ENV, "run-1")
    assert boot_logs.reuse(config, out) is None, "kept by another run"
    boot_logs.save(out, config, booted)
    kept = boot_logs.reuse(config, out)
    assert kept is not None and kept.config is config
    assert (kept.outcome, kept.exit_status) == ("failure", 71)
    assert [str(r) for r in kept.records] == [str(r) for r in booted.records]
    assert kept.clean_log == booted.clean_log

    # Monitor readings come back only if the book step took them.
    inspected = BootConfig("99-fake", cmdline="test.fault=all", monitor_commands=["info tlb"])
    assert boot_logs.reuse(inspected, out) is None, "no reading was kept"
    booted.monitor = {"info tlb": "tlb text", "info registers": "registers text", "slot_walk": "walk text"}
    boot_logs.save(out, config, booted)
    kept = boot_logs.reuse(inspected, out)
    assert kept is not None and kept.monitor == {"info tlb": "tlb text"}
    assert boot_logs.is_fresh(out, inspected)
    assert not boot_logs.is_fresh(out, BootConfig("99-fake", cmdline="test.fault=all", monitor_commands=["info mem"]))
    shared = BootConfig("99-fake", cmdline="test.fault=all", monitor_commands=[inspections.slot_walk])
    assert boot_logs.reuse(shared, out).monitor == {"slot_walk": "walk text"}

    def slot_walk(hmp):  # the same name as a kept reading, but not the shared function
        return hmp("info tlb")
    assert boot_logs.reuse(BootConfig("99-fake", cmdline="test.fault=all", monitor_commands=[slot_walk]), out) is None

    # A page's :memory: is part of the boot: kept apart, read back only for that RAM.
    bigger = BootConfig("99-fake", cmdline="test.fault=all", memory="4G")
    assert boot_logs.reuse(bigger, out) is None
    boot_logs.save(out, bigger, booted)
    assert (out / "99-fake@4G+test.fault=all.log").is_file()
    assert boot_logs.reuse(bigger, out) is not None
    assert boot_logs.reuse(BootConfig("99-fake", cmdline="test.fault=all", memory="4G", cpu="qemu64"), out) is None

    # Only the very configuration the book step boots.
    for other in [BootConfig("99-fake", cmdline="test.fault=null"), BootConfig("99-fake", cmdline="test.fault=all", hold=True),
                  BootConfig("99-fake", cmdline="test.fault=all", memory="8G"),
                  BootConfig("99-fake", cmdline="test.fault=all", esp_files={"kernel.elf": b""}),
                  BootConfig("99-fake", cmdline="test.fault=all", gdb_port=1234), BootConfig("99-fake")]:
        assert boot_logs.reuse(other, out) is None, other

    monkeypatch.setenv(boot_logs.SESSION_ENV, "run-2")
    assert boot_logs.reuse(config, out) is None, "a later run boots again"
    monkeypatch.setenv(boot_logs.SESSION_ENV, "run-1")
    os.utime(fake_build, None)  # the image rebuilt after the log was kept
    os.utime(out / "99-fake+test.fault=all.log", (1, 1))
    assert boot_logs.reuse(config, out) is None, "older than the image"


def test_test_modules_share_a_boot_that_answers_them(fake_build, tmp_path, monkeypatch):
    """boot_logs.shared: one boot per machine, command line and disk in a
    session; a boot with monitor readings also answers a plain request and one
    that asks for fewer readings or a longer timeout, never one that asks for a
    reading it did not take, a shorter timeout than it took, or another machine."""
    monkeypatch.setattr(boot_logs, "SHARED_DIR", tmp_path / "test-boots")
    monkeypatch.setenv(boot_logs.SESSION_ENV, "run-1")
    boots: list[BootConfig] = []

    def boot(config: BootConfig, elapsed: float = 3.4):
        def run() -> BootResult:
            boots.append(config)
            monitor = {qemu.monitor_name(command): f"{qemu.monitor_name(command)} text"
                       for command in config.monitor_commands}
            return BootResult(config=config, log=OVMF_AND_KERNEL, records=log.parse_records(OVMF_AND_KERNEL),
                              exit_status=71, outcome="failure", elapsed=elapsed, monitor=monitor)
        return boot_logs.shared(config, run)

    inspected = BootConfig("99-fake", cmdline="test.fault=all", monitor_commands=["info tlb", inspections.slot_walk])
    first = boot(inspected)
    assert len(boots) == 1 and first.monitor == {"info tlb": "info tlb text", "slot_walk": "slot_walk text"}
    for answered in [BootConfig("99-fake", cmdline="test.fault=all"),
                     BootConfig("99-fake", cmdline="test.fault=all", monitor_commands=["info tlb"], timeout=60)]:
        kept = boot(answered)
        assert len(boots) == 1, answered
        assert kept.config is answered and (kept.outcome, kept.exit_status) == ("failure", 71)
        assert kept.monitor == {qemu.monitor_name(c): f"{qemu.monitor_name(c)} text" for c in answered.monitor_commands}
        assert [str(r) for r in kept.records] == [str(r) for r in first.records]
    for booted in [BootConfig("99-fake", cmdline="test.fault=all", monitor_commands=["info mem"]),
                   BootConfig("99-fake", cmdline="test.fault=all", timeout=3.0),
                   BootConfig("99-fake", cmdline="test.fault=all", cpu="qemu64"),
                   BootConfig("99-fake", cmdline="test.fault=all", display="ramfb"),
                   BootConfig("99-fake", cmdline="test.fault=all", esp_files={"kernel.elf": b""}),
                   BootConfig("99-fake", cmdline="test.fault=null")]:
        count = len(boots)
        boot(booted)
        assert len(boots) == count + 1, booted
    # The boot that took "info mem" is kept beside the first: both answer from now on.
    count = len(boots)
    boot(BootConfig("99-fake", cmdline="test.fault=all", monitor_commands=["info mem"]))
    boot(BootConfig("99-fake", cmdline="test.fault=all", monitor_commands=[inspections.slot_walk]))
    assert len(boots) == count
    # Never a debugger's or a held boot, and never outside a session.
    for unshared in [BootConfig("99-fake", cmdline="test.fault=all", gdb_port=1234),
                     BootConfig("99-fake", cmdline="test.fault=all", hold=True)]:
        count = len(boots)
        boot(unshared)
        boot(unshared)
        assert len(boots) == count + 2, unshared
    monkeypatch.delenv(boot_logs.SESSION_ENV)
    count = len(boots)
    boot(BootConfig("99-fake", cmdline="test.fault=all"))
    assert len(boots) == count + 1, "no session: every boot is a boot"


def test_sweep_segments_cut_the_log_at_each_marker():
    records = log.parse_records(
        "[INFO  kernel] ready before\n"
        "[WARN  heap] a bad free on request kind=a\n"
        "[ERROR heap] free rejected reason=x\n"
        "[WARN  frames] a bad free on request kind=b\n"
        "[ERROR frames] free rejected reason=y\n"
        "[INFO  kernel] every bad free tried kinds=2\n")
    any_subsystem = harness.sweep_segments(records, "a bad free on request", "kind")
    assert list(any_subsystem) == ["a", "b"]
    assert [r.event for r in any_subsystem["a"]] == ["a bad free on request", "free rejected"]
    assert [r.event for r in any_subsystem["b"]] == ["a bad free on request", "free rejected", "every bad free tried"]
    only_heap = harness.sweep_segments(records, "a bad free on request", "kind", "heap")
    assert list(only_heap) == ["a"] and len(only_heap["a"]) == 5  # b's marker is not heap's: it belongs to a
    until = harness.sweep_segments(records, "a bad free on request", "kind", until="every bad free tried")
    assert [r.event for r in until["b"]] == ["a bad free on request", "free rejected"]

"""Test harness: boot tutorial chapters under QEMU + OVMF and inspect the result.

Typical use in a test::

    from harness import BootConfig, boot, assert_outcome

    def test_kernel_reports_ready():
        result = boot(BootConfig(chapter="01-boot"))
        assert_outcome(result, "success")
        ready = result.record("kernel", "ready")
        assert ready.fields["chapter"] == "01-boot"

Modules:

* :mod:`harness.paths`       repository layout, chapter list, OVMF files
* :mod:`harness.exit_codes`  exit codes parsed from ``common/include/boot/exit_codes.h``
* :mod:`harness.log`         serial log cleaning and ``[LEVEL subsystem] message`` parsing
* :mod:`harness.qmp`         a minimal QMP (QEMU Machine Protocol) client
* :mod:`harness.boot_config` :class:`BootConfig`: what one run boots, on which machine
* :mod:`harness.boot_result` :class:`BootResult`, the outcomes and the checks on them
* :mod:`harness.disk_image`  reading and editing files in a FAT disk image (mtools)
* :mod:`harness.run_dir`     a run's private directory: image and variable-store copies
* :mod:`harness.qemu_argv`   :func:`qemu_command`, the QEMU command line
* :mod:`harness.qemu`        :func:`boot`: runs QEMU, follows the serial log, reads the monitor
* :mod:`harness.firmware_vars`  the UEFI variable store every boot starts from
* :mod:`harness.protections` the protections every chapter's finished machine must show
* :mod:`harness.inspections` the monitor readings the tests and the book step share
"""

from .exit_codes import ExitCodes, load_exit_codes, parse_exit_codes, qemu_status
from .log import (
    LEVELS,
    only,
    LogRecord,
    clean_lines,
    find_record,
    int_field,
    loader_memory_map,
    size_field,
    parse_fields,
    parse_line,
    parse_records,
    records_for,
    strip_ansi,
    sweep_segments,
)
from .paths import (
    BUILD_DIR,
    OVMF_CODE,
    OVMF_VARS,
    REPO_ROOT,
    chapter_image,
    chapter_kernel,
    chapters,
    newest_chapter,
    resolve_chapter,
)
from .boot_config import BootConfig
from .boot_result import OUTCOMES, BootResult, assert_outcome, assert_ready_without_warnings, the_rejection
from .errors import HarnessError, MissingBuildError
from .qemu import boot
from .qemu_argv import qemu_command
from .run_dir import RunFiles, prepare_run_dir
from .qmp import QMPClient, QMPError

__all__ = [
    "BUILD_DIR", "LEVELS", "OUTCOMES", "OVMF_CODE", "OVMF_VARS", "REPO_ROOT",
    "BootConfig", "BootResult", "ExitCodes", "HarnessError", "LogRecord", "MissingBuildError",
    "QMPClient", "QMPError", "RunFiles",
    "assert_outcome", "assert_ready_without_warnings", "the_rejection", "boot", "chapter_image", "chapter_kernel", "chapters", "clean_lines",
    "find_record", "int_field", "only", "loader_memory_map", "size_field", "load_exit_codes", "newest_chapter", "parse_exit_codes",
    "parse_fields", "parse_line", "parse_records", "prepare_run_dir", "qemu_command",
    "qemu_status", "records_for", "resolve_chapter", "strip_ansi", "sweep_segments",
]

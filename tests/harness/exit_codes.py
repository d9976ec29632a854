"""Read the guest's exit codes from the C++ header, so they exist only once.

The loader and the kernel end a run by writing one byte to QEMU's
``isa-debug-exit`` device. QEMU then exits with status ``(value << 1) | 1``.
``common/include/boot/exit_codes.h`` defines the port and the two values::

    inline constexpr uint16_t kDebugExitPort = 0xf4;
    enum class ExitCode : uint8_t {
        kSuccess = 0x10,
        kFailure = 0x11,
    };

Instead of copying the numbers into Python (where they would silently drift
if someone edited the header), this module parses them with regular
expressions. The parser is deliberately strict: if it cannot find exactly
one definition of each constant it raises, rather than guessing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from . import paths

# An integer literal as the header may spell it: 0x10, 16, optionally with a
# C++ suffix such as 16u.
_INT = r"(0[xX][0-9a-fA-F]+|\d+)[uUlL]*"

# The body of "enum class ExitCode ... { ... }" (the underlying type is optional).
_ENUM_RE = re.compile(r"enum\s+class\s+ExitCode\b[^{]*\{(?P<body>[^}]*)\}", re.S)
_PORT_RE = re.compile(r"\bkDebugExitPort\s*=\s*" + _INT)


def _enumerator_re(name: str) -> re.Pattern[str]:
    return re.compile(r"\b" + re.escape(name) + r"\s*=\s*" + _INT)


def qemu_status(value: int) -> int:
    """The exit status QEMU reports after the guest writes ``value`` to isa-debug-exit."""
    return (value << 1) | 1


@dataclass(frozen=True)
class ExitCodes:
    """The values from the header, plus the QEMU exit statuses they become."""

    port: int     #: I/O port of the isa-debug-exit device
    success: int  #: value the guest writes on success (ExitCode::kSuccess)
    failure: int  #: value the guest writes on failure (ExitCode::kFailure)

    @property
    def success_status(self) -> int:
        """QEMU's exit status when the guest reports success."""
        return qemu_status(self.success)

    @property
    def failure_status(self) -> int:
        """QEMU's exit status when the guest reports failure."""
        return qemu_status(self.failure)


def _single(pattern: re.Pattern[str], text: str, what: str, source: str) -> int:
    found = pattern.findall(text)
    if len(found) != 1:
        raise ValueError(f"expected exactly one definition of {what} in {source}, found {len(found)}")
    return int(found[0], 0)


def parse_exit_codes(text: str, source: str = "<header text>") -> ExitCodes:
    """Parse the header text. ``source`` only names the file in error messages."""
    # Drop // comments first: the header's comments mention the same names.
    code = re.sub(r"//[^\n]*", "", text)
    enum = _ENUM_RE.search(code)
    if enum is None:
        raise ValueError(f"no 'enum class ExitCode {{ ... }}' found in {source}")
    body = enum.group("body")
    codes = ExitCodes(
        port=_single(_PORT_RE, code, "kDebugExitPort", source),
        success=_single(_enumerator_re("kSuccess"), body, "ExitCode::kSuccess", source),
        failure=_single(_enumerator_re("kFailure"), body, "ExitCode::kFailure", source),
    )
    if codes.success == codes.failure:
        raise ValueError(f"kSuccess and kFailure have the same value in {source}")
    # 0 and 1 are QEMU's own statuses (guest reset, QEMU error), so guest codes
    # must map to something else; (v << 1) | 1 is never 0, and is 1 only for v == 0.
    if 0 in (codes.success, codes.failure):
        raise ValueError(f"exit code 0 would be indistinguishable from a QEMU error in {source}")
    return codes


@functools.lru_cache(maxsize=None)
def load_exit_codes(header: Path | None = None) -> ExitCodes:
    """Parse ``common/include/boot/exit_codes.h`` (or ``header``); cached."""
    path = Path(header) if header is not None else paths.EXIT_CODES_HEADER
    return parse_exit_codes(path.read_text(encoding="utf-8"), str(path))

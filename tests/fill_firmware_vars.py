#!/usr/bin/python3
"""Fill each named machine's UEFI variable store now, if it is not current.

Usage: tests/fill_firmware_vars.py MACHINE...   (e.g. ``pc``)

Every boot starts from a store that has booted once, made on first use
(``tests/harness/firmware_vars.py``). ``make test`` fills pc's with this beside
its book step, whose own first boot fills q35's, so neither waits for the other.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.firmware_vars import seasoned_vars  # noqa: E402
from harness.paths import chapters  # noqa: E402

if __name__ == "__main__":
    for machine in sys.argv[1:]:
        seasoned_vars(machine, chapters()[0])

#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages this project needs, if missing.
#
# `make` runs this before anything else, so `make run` and `make test` work on a
# fresh Debian 12 machine. It checks quickly with dpkg and does nothing when all
# is there. Packages come from Debian only; nothing is downloaded from elsewhere,
# and firmware (OVMF) comes from the `ovmf` package, never from the repository.
set -euo pipefail

packages=(
    g++ make binutils          # compiler, build, ld/objcopy/readelf
    gnu-efi                    # UEFI headers, crt0 and linker script for the loader
    ovmf                       # UEFI firmware for QEMU: OVMF_CODE.fd / OVMF_VARS.fd
    qemu-system-x86            # qemu-system-x86_64
    mtools dosfstools          # FAT images without root or loop mounts
    valgrind                   # make bench: callgrind counts the mapping code's instructions
    gdb                        # make debug
    libgtest-dev               # host unit tests of the memory code
    clang libclang-rt-14-dev   # libFuzzer targets (make fuzz; a short run in make test)
    python3 python3-pytest python3-pytest-xdist  # boot tests, run in parallel
    python3-sphinx python3-myst-parser furo      # make book: Sphinx 5.3, MyST Markdown, theme
    chromium                                     # book tests: headless page rendering, screenshot
    console-setup-linux                          # the screen console's PSF font (mk/kernel.mk)
)

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    [ "$status" = "installed" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install-deps: error: need root or sudo to run: apt-get install ${missing[*]}" >&2
    exit 1
fi
log=$(mktemp)
if ! { "${as_root[@]}" apt-get update && \
       "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "install-deps: error: apt-get failed (full log: $log)" >&2
    exit 1
fi
rm -f "$log"
echo "install-deps: done" >&2

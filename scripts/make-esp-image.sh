#!/usr/bin/env bash
# make-esp-image.sh IMAGE LOADER KERNEL [CMDLINE]
#
# Builds the EFI system partition of one chapter, twice over:
#   <dir of IMAGE>/esp/   the files, for reading (and for QEMU's fat: driver if you like)
#   IMAGE                 a FAT disk image of the same files, made with mtools
# USER_ELFS (environment, space-separated): the chapter's user programs
# (mk/user.mk), copied to \user\ for the loader to read as boot modules.
# The image is a bare FAT file system without a partition table (a "superfloppy"):
# OVMF mounts it as removable media and boots \EFI\BOOT\BOOTX64.EFI from it.
set -euo pipefail
image=$1 loader=$2 kernel=$3 cmdline=${4:-}
esp=$(dirname "$image")/esp
export MTOOLS_SKIP_CHECK=1

rm -rf "$esp" "$image.tmp"
mkdir -p "$esp/EFI/BOOT"
cp "$loader" "$esp/EFI/BOOT/BOOTX64.EFI"
# The kernel without its debug info, as a distribution ships vmlinuz apart from
# its debug symbols: the loader reads the whole file, and chapter 11's is 1.1 MB
# with DWARF and 0.15 MB without. GDB reads build/NN-name/kernel.elf instead.
"${OBJCOPY:-objcopy}" --strip-debug "$kernel" "$esp/kernel.elf"
printf '%s' "$cmdline" > "$esp/cmdline.txt"

# 32 MiB, sparse on disk; mtools picks FAT16 for this size, which UEFI reads as well as FAT32.
truncate -s 32M "$image.tmp"
mformat -i "$image.tmp" -v ESP ::
mmd -i "$image.tmp" ::/EFI ::/EFI/BOOT
mcopy -i "$image.tmp" "$esp/EFI/BOOT/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$image.tmp" "$esp/kernel.elf" "$esp/cmdline.txt" ::/
if [ -n "${USER_ELFS:-}" ]; then
    mkdir -p "$esp/user"
    # Stripped like the kernel: the loader copies the whole file into memory.
    for elf in $USER_ELFS; do "${OBJCOPY:-objcopy}" --strip-debug "$elf" "$esp/user/$(basename "$elf")"; done
    mmd -i "$image.tmp" ::/user
    mcopy -i "$image.tmp" "$esp"/user/*.elf ::/user/
fi
mv "$image.tmp" "$image"

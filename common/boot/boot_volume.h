// Reading files from the FAT volume BOOTX64.EFI itself was loaded from.
#pragma once

#include <stdint.h>

#include "boot/efi.h"

namespace boot {

struct FileContents {
    uint8_t* data;  // pool memory (EfiLoaderData), freed before the final memory map
    uint64_t size;
};

// The loader's own image: where the firmware put it and which device it came from.
// Fails the boot when the firmware does not say.
EFI_LOADED_IMAGE* loaded_image(EFI_HANDLE image);

// Opens the root of the volume the loader was loaded from; fails the boot when
// it has no readable file system.
EFI_FILE_HANDLE open_boot_volume(EFI_HANDLE image, const EFI_LOADED_IMAGE& loaded);

// read_file's answer for a path that names a directory. UEFI has no status
// for it, so it is one of ours (an OEM error code, UEFI 2.10 Appendix D),
// logged as status=is-a-directory.
inline constexpr EFI_STATUS kEfiIsADirectory = EFIERR_OEM(1);

// Reads a whole file. A missing file returns EFI_NOT_FOUND so the caller decides
// whether it is optional; a directory returns kEfiIsADirectory; any other
// failure is returned as is.
EFI_STATUS read_file(EFI_FILE_HANDLE root, const char16_t* path, uint64_t max_size, FileContents* out);

}  // namespace boot

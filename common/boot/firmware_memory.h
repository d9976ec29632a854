// Loader-owned memory: pages taken from the firmware under our own memory
// types (boot/uefi_memory.h), so they show up by name in the final memory map.
#pragma once

#include <stdint.h>

#include "boot/uefi_memory.h"
#include "boot/efi.h"

namespace boot {

// Allocates `pages` zeroed 4 KiB pages anywhere in physical memory and returns
// their physical address (the firmware runs identity-mapped, so it is also a
// pointer). Logs and fails the boot when the firmware cannot provide them.
uint64_t allocate_loader_pages(EFI_HANDLE image, EfiMemoryType type, uint64_t pages, const char* purpose);

}  // namespace boot

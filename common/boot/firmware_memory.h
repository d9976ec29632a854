// Loader-owned memory: pages taken from the firmware under our own memory
// types (boot/uefi_memory.h), so they show up by name in the final memory map.
#pragma once

#include <stdint.h>

#include "boot/uefi_memory.h"
#include "boot/efi.h"

namespace boot {

// `max_address` for what 32-bit code must reach (handover_trampoline.h).
inline constexpr uint64_t kAnyAddress = ~uint64_t(0);
inline constexpr uint64_t kBelow4GiB = 0xffff'ffffull;  // the last address allowed

// Allocates `pages` zeroed 4 KiB pages that end at or below `max_address` and
// returns their physical address (the firmware runs identity-mapped, so it is
// also a pointer). Logs and fails the boot when the firmware cannot provide them.
uint64_t allocate_loader_pages(EFI_HANDLE image, EfiMemoryType type, uint64_t pages, const char* purpose,
                               uint64_t max_address = kAnyAddress);

}  // namespace boot

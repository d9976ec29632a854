// Making one page executable and read-only in the firmware's own tables.
//
// Firmware built to today's memory-protection rules maps newly allocated
// pages non-executable, code types included, and expects a loader that wants
// to run code from one to say so through EFI_MEMORY_ATTRIBUTE_PROTOCOL (new in
// UEFI 2.10; Linux's x86 EFI stub does the same for its kernel). Firmware without the protocol predates those rules
// and maps EfiLoaderCode executable, as Debian bookworm's OVMF does.
#pragma once

#include <stdint.h>

#include "boot/efi.h"

namespace boot {

enum class PageProtection : uint8_t {
    kSetByProtocol,  // the protocol said RO and not XP, and reads back so
    kNoProtocol,     // firmware without the protocol: its default for code
};

// Asks for [page, page + 4 KiB) read-only and executable. Fails the boot by
// name when the protocol exists but refuses, or reads back XP still set.
PageProtection make_page_read_only_executable(EFI_HANDLE image, uint64_t page, const char* purpose);

constexpr const char* protection_name(PageProtection p) {
    return p == PageProtection::kSetByProtocol ? "memory-attribute-protocol" : "firmware-default";
}

}  // namespace boot

// GNU-EFI's C headers, made usable from C++.
//
// GNU_EFI_USE_MS_ABI (set by the Makefile) declares every firmware function
// pointer with the Microsoft x64 ABI that UEFI uses, so firmware services are
// called directly (`bs->AllocatePages(...)`) with no uefi_call_wrapper.
#pragma once

extern "C" {
#include <efi.h>
#include <efilib.h>
}

namespace boot {

// CHAR16 is uint16_t in GNU-EFI, while C++'s u"..." literals are char16_t:
// same representation, different type.
inline CHAR16* wide(const char16_t* text) { return reinterpret_cast<CHAR16*>(const_cast<char16_t*>(text)); }

// A short stable name for the statuses a loader meets, else nullptr.
const char* efi_status_name(EFI_STATUS status);

}  // namespace boot

#include "boot/firmware_memory.h"

#include "boot/loader_log.h"
#include "support/units.h"

namespace boot {

uint64_t allocate_loader_pages(EFI_HANDLE image, EfiMemoryType type, uint64_t pages, const char* purpose,
                               uint64_t max_address) {
    EFI_PHYSICAL_ADDRESS address = max_address;
    const EFI_ALLOCATE_TYPE how = max_address == kAnyAddress ? AllocateAnyPages : AllocateMaxAddress;
    EFI_STATUS status = BS->AllocatePages(how, static_cast<EFI_MEMORY_TYPE>(type), pages, &address);
    if (EFI_ERROR(status)) {
        klog::error("loader").msg("out of memory").kv("purpose", purpose).kv("pages", pages).kv(
            "status", efi_status_text(status));
        loader_fail(image, status);
    }
    SetMem(reinterpret_cast<void*>(address), pages * kPageSize, 0);
    return address;
}

}  // namespace boot

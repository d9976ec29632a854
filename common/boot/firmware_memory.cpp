#include "boot/firmware_memory.h"

#include "boot/loader_log.h"
#include "support/units.h"

namespace boot {

uint64_t allocate_loader_pages(EFI_HANDLE image, EfiMemoryType type, uint64_t pages, const char* purpose) {
    EFI_PHYSICAL_ADDRESS address = 0;
    EFI_STATUS status =
        BS->AllocatePages(AllocateAnyPages, static_cast<EFI_MEMORY_TYPE>(type), pages, &address);
    if (EFI_ERROR(status)) {
        klog::error("loader").msg("out of memory").kv("purpose", purpose).kv("pages", pages).kv(
            "status", efi_status_text(status));
        loader_fail(image, status);
    }
    SetMem(reinterpret_cast<void*>(address), pages * kPageSize, 0);
    return address;
}

}  // namespace boot

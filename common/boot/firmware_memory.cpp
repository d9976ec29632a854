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
        {   // the line is written when it goes out of scope: before loader_fail()
            klog::Line line = klog::error("loader");
            line.msg("out of memory").kv("purpose", purpose).kv("pages", pages);
            if (max_address != kAnyAddress) line.kv("max-address", klog::hex(max_address));  // below 4 GiB was asked
            line.kv("status", efi_status_text(status));
        }
        loader_fail(image, status);
    }
    SetMem(reinterpret_cast<void*>(address), pages * kPageSize, 0);
    return address;
}

}  // namespace boot

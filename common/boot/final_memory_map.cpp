#include "boot/final_memory_map.h"

#include "boot/uefi_memory.h"
#include "boot/firmware_memory.h"
#include "boot/identity_extent.h"
#include "boot/loader_log.h"
#include "support/units.h"

namespace boot {
namespace {

// Room for this many more descriptors than the map had when we sized the
// buffer: each allocation after that may split a free region in two.
constexpr uint64_t kSlackDescriptors = 32;
constexpr unsigned kMaxExitAttempts = 8;

struct MapSnapshot {
    EFI_STATUS status;
    UINTN size;
    UINTN key;
    UINTN descriptor_size;
    UINT32 descriptor_version;
};

MapSnapshot get_memory_map(uint64_t buffer, uint64_t capacity) {
    MapSnapshot s{};
    s.size = capacity;
    s.status = BS->GetMemoryMap(&s.size, reinterpret_cast<EFI_MEMORY_DESCRIPTOR*>(buffer), &s.key,
                                &s.descriptor_size, &s.descriptor_version);
    return s;
}

[[noreturn]] void fail_map(EFI_HANDLE image, const char* what, EFI_STATUS status) {
    klog::error("loader").msg(what).kv("status", efi_status_text(status));
    loader_fail(image, status);
}

}  // namespace

MemoryMapBuffer allocate_memory_map_buffer(EFI_HANDLE image) {
    const MapSnapshot probe = get_memory_map(0, 0);  // asks for the size only
    if (probe.status != EFI_BUFFER_TOO_SMALL || probe.descriptor_size < sizeof(EfiMemoryDescriptor))
        fail_map(image, "memory map size query failed", probe.status);
    const uint64_t bytes = probe.size + kSlackDescriptors * probe.descriptor_size;
    const uint64_t pages = pages_for(bytes);
    return {allocate_loader_pages(image, EfiMemoryType::kBootHandoff, pages, "memory map buffer"), pages * kPageSize};
}

uint64_t bootstrap_identity_top(EFI_HANDLE image, const MemoryMapBuffer& buffer, uint64_t framebuffer_end) {
    const MapSnapshot map = get_memory_map(buffer.address, buffer.capacity);
    if (EFI_ERROR(map.status)) fail_map(image, "GetMemoryMap failed", map.status);
    uint64_t top = 0;
    const Violation v =
        identity_top(reinterpret_cast<const uint8_t*>(buffer.address), map.size, map.descriptor_size, framebuffer_end, &top);
    if (!v.ok()) {
        klog::error("loader").msg("identity map rejected").kv("field", v.field).kv("value", klog::hex(v.value))
            .kv("index", v.has_index() ? v.index : 0).kv("rule", v.rule);
        loader_fail(image, EFI_UNSUPPORTED);
    }
    return top;
}

// book:begin exit-boot-services
FinalMemoryMap exit_boot_services(EFI_HANDLE image, const MemoryMapBuffer& buffer) {
    for (unsigned attempt = 1; attempt <= kMaxExitAttempts; ++attempt) {
        // From here to ExitBootServices: no allocation, no firmware console,
        // nothing that could change the map we are about to hand over.
        const MapSnapshot map = get_memory_map(buffer.address, buffer.capacity);
        if (EFI_ERROR(map.status)) fail_map(image, "final GetMemoryMap failed", map.status);
        const EFI_STATUS status = BS->ExitBootServices(image, map.key);
        if (status == EFI_SUCCESS) {
            loader_log_boot_services_exited();
            return {buffer.address, map.size, buffer.capacity, uint32_t(map.descriptor_size), map.descriptor_version,
                    attempt};
        }
        if (status != EFI_INVALID_PARAMETER) fail_map(image, "ExitBootServices failed", status);
        // EFI_INVALID_PARAMETER: the map key went stale. Fetch again and retry.
    }
    fail_map(image, "ExitBootServices kept rejecting the map key", EFI_INVALID_PARAMETER);
}
// book:end exit-boot-services

}  // namespace boot

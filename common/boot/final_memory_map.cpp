#include "boot/final_memory_map.h"

#include "boot/uefi_memory.h"
#include "boot/firmware_memory.h"
#include "boot/exit_retry.h"
#include "boot/identity_extent.h"
#include "boot/loader_log.h"
#include "support/units.h"

namespace boot {
namespace {

MapRead get_memory_map(const MapBuffer& buffer) {
    UINTN size = buffer.capacity, key = 0, descriptor_size = 0;
    UINT32 descriptor_version = 0;
    const EFI_STATUS status = BS->GetMemoryMap(&size, reinterpret_cast<EFI_MEMORY_DESCRIPTOR*>(buffer.address), &key,
                                               &descriptor_size, &descriptor_version);
    return {status, size, key, descriptor_size, descriptor_version};
}

[[noreturn]] void fail_map(EFI_HANDLE image, const char* what, EFI_STATUS status) {
    klog::error("loader").msg(what).kv("status", efi_status_text(status));
    loader_fail(image, status);
}

// The firmware's side of exit_with_final_map. Once ExitBootServices has been
// called, failed or not, the firmware console and Stall/Exit are off limits
// (exit_retry.h): the log is told so before the call, not after.
class BootServicesExit final : public ExitServices {
public:
    explicit BootServicesExit(EFI_HANDLE image) : image_(image) {}

    MapRead get_memory_map(const MapBuffer& buffer) override { return boot::get_memory_map(buffer); }
    uint64_t exit_boot_services(uint64_t map_key) override {
        loader_log_boot_services_exited();
        return BS->ExitBootServices(image_, map_key);
    }
    bool allocate_map_buffer(uint64_t bytes, MapBuffer* buffer) override {
        EFI_PHYSICAL_ADDRESS address = 0;
        const uint64_t pages = pages_for(bytes);
        if (EFI_ERROR(BS->AllocatePages(AllocateAnyPages, static_cast<EFI_MEMORY_TYPE>(EfiMemoryType::kBootHandoff),
                                        pages, &address)))
            return false;
        SetMem(reinterpret_cast<void*>(address), pages * kPageSize, 0);  // a plain loop: no boot service
        *buffer = {address, pages * kPageSize};
        return true;
    }
    void free_map_buffer(const MapBuffer& buffer) override { BS->FreePages(buffer.address, buffer.capacity / kPageSize); }

private:
    EFI_HANDLE image_;
};

}  // namespace

MemoryMapBuffer allocate_memory_map_buffer(EFI_HANDLE image) {
    const MapRead probe = get_memory_map({0, 0});  // asks for the size only
    if (probe.status != EFI_BUFFER_TOO_SMALL || probe.descriptor_size < sizeof(EfiMemoryDescriptor))
        fail_map(image, "memory map size query failed", probe.status);
    const uint64_t bytes = probe.size + kSlackDescriptors * probe.descriptor_size;
    const uint64_t pages = pages_for(bytes);
    return {allocate_loader_pages(image, EfiMemoryType::kBootHandoff, pages, "memory map buffer"), pages * kPageSize};
}

uint64_t bootstrap_identity_top(EFI_HANDLE image, const MemoryMapBuffer& buffer, uint64_t framebuffer_end) {
    const MapRead map = get_memory_map(buffer);
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

FinalMemoryMap exit_boot_services(EFI_HANDLE image, const MemoryMapBuffer& buffer) {
    BootServicesExit firmware(image);
    const ExitResult r = exit_with_final_map(firmware, buffer);
    if (r.outcome != ExitOutcome::kExited) {
        // COM1 only from the first attempt on; loader_fail then halts
        // instead of calling Stall and Exit.
        klog::error("loader").msg("ExitBootServices failed").kv("reason", exit_outcome_name(r.outcome))
            .kv("status", efi_status_text(r.status)).kv("attempts", r.attempts).kv("growths", r.growths);
        loader_fail(image, EFI_ERROR(r.status) ? r.status : EFI_ABORTED);
    }
    return {r.buffer.address, r.map.size, r.buffer.capacity, uint32_t(r.map.descriptor_size), r.map.descriptor_version,
            r.attempts};
}

}  // namespace boot

#include "mmio_map.h"

#include "address_space_layout.h"
#include "arch/x86/cpu.h"
#include "mapping_log.h"
#include "support/log.h"

namespace mm {
namespace {

// The one line every MMIO mapping prints.
void log_map(const char* what, PhysAddr pa, VirtAddr va, uint64_t length, const MapStats& mapped,
             const MappingPolicy& policy) {
    // The flags of the largest page used: a 2 MiB leaf reads PAT at bit 12, a PTE at bit 7.
    const PageSize size = mapped.pages_2m != 0 ? PageSize::k2MiB : PageSize::k4KiB;
    klog::Line line(klog::Level::kInfo, "mmio");
    line.msg("map").msg(what).kv("pa", klog::hex(pa.value())).kv("va", klog::hex(va.value()))
        .kv("size", klog::size(length));
    if (mapped.pages_2m != 0) line.kv("pages-4k", mapped.pages_4k).kv("pages-2m", mapped.pages_2m);
    line.kv("flags", flags_text(leaf_entry_flags(policy, size), leaf_level(size)).text);
    if (mapped.pages_2m != 0 && mapped.pages_4k != 0)
        line.kv("flags-4k", flags_text(leaf_entry_flags(policy, PageSize::k4KiB)).text);
    line.kv("type", name(policy.memory_type));
}

}  // namespace

MmioDeviceAddresses mmio_device_addresses(uint64_t apic_base_msr, const acpi::AcpiDevices& acpi) {
    MmioDeviceAddresses d;
    d.lapic = PhysAddr(apic_base_msr & x86::kApicBaseAddressMask);
    d.has_ioapic = acpi.ioapic_count != 0;
    d.ioapic = acpi.ioapic;
    d.has_hpet = acpi.has_hpet;
    d.hpet = acpi.hpet;
    return d;
}

// book:begin map-mmio-devices
MapResult map_mmio_devices(PageTableBuilder& builder, const MmioDeviceAddresses& devices, CpuPagingFeatures cpu,
                           MmioDevices* out) {
    const MappingPolicy policy = fit_to_cpu(kMmioPolicy, cpu);
    struct Device {
        const char* name;
        bool present;
        PhysAddr pa;
        VirtAddr* va;
    };
    const Device list[] = {
        {"lapic", true, devices.lapic, &out->lapic},
        {"ioapic", devices.has_ioapic, devices.ioapic, &out->ioapic},
        {"hpet", devices.has_hpet, devices.hpet, &out->hpet},
    };
    *out = {};
    VirtAddr slot = layout::kMmioWindowBase;  // consecutive 4 KiB slots, in the order above
    MapStats phase;
    uint64_t mapped_devices = 0;
    for (const Device& d : list) {
        if (!d.present) {
            klog::info("mmio").msg(d.name).msg("absent");
            continue;
        }
        // Each register block is smaller than a page; the page holding it is mapped.
        const MapResult mapped = builder.map_range(slot, d.pa.page_base(), kPageSize, policy);
        if (!mapped.ok()) {
            log_map_rejection("map_mmio_devices", d.name, slot, d.pa.page_base(), kPageSize, mapped);
            return mapped;
        }
        log_map(d.name, d.pa.page_base(), slot, kPageSize, mapped.mapped, policy);
        *d.va = slot + d.pa.offset_in_page();
        slot = slot + kPageSize;
        phase += mapped.mapped;
        ++mapped_devices;
    }
    page_counts(klog::info("paging").msg("phase map_mmio_devices").kv("devices", mapped_devices), phase)
        .kv("flags", flags_text(leaf_entry_flags(policy, PageSize::k4KiB)).text).kv("type", name(policy.memory_type));
    return {MapStatus::kOk, layout::kMmioWindowBase, phase};
}
// book:end map-mmio-devices

// book:begin map-framebuffer
MapResult map_framebuffer(PageTableBuilder& builder, PhysAddr base, uint64_t size, CpuPagingFeatures cpu) {
    const MappingPolicy policy = fit_to_cpu(kFramebufferPolicy, cpu);
    const VirtAddr va = layout::kFramebufferBase;
    if (base.is_null() || size == 0) {
        klog::info("mmio").msg("framebuffer absent");
        return {MapStatus::kOk, va, {}};
    }
    // The firmware's size need not be a page multiple; the pixels in the last
    // partial page still need it mapped.
    uint64_t length = 0;
    if (!align_up(base.offset_in_page() + size, kPageSize, &length) || length > layout::kFramebufferWindowSize) {
        klog::warn("mmio").msg("framebuffer larger than its window").kv("size", klog::size(size))
            .kv("window", klog::size(layout::kFramebufferWindowSize));
        length = layout::kFramebufferWindowSize;
    }
    const MapResult mapped = builder.map_range(va, base.page_base(), length, policy);
    if (!mapped.ok()) {
        log_map_rejection("map_framebuffer", "framebuffer", va, base.page_base(), length, mapped);
        return mapped;
    }
    log_map("framebuffer", base.page_base(), va, length, mapped.mapped, policy);
    page_counts(klog::info("paging").msg("phase map_framebuffer"), mapped.mapped).kv("type", name(policy.memory_type));
    return mapped;
}
// book:end map-framebuffer

}  // namespace mm

#include "mm/mmio_map.h"

#include "mm/address_space_layout.h"
#include "arch/x86/cpu.h"
#include "mm/mapping_log.h"
#include "mm/ram_runs.h"
#include "support/log.h"

namespace mm {
namespace {

// The one line every MMIO mapping prints.
void log_map(const char* what, PhysAddr pa, VirtAddr va, uint64_t length, const MapStats& mapped,
             const MappingPolicy& policy) {
    // The flags of the largest page used: a 2 MiB leaf reads PAT at bit 12, a PTE at bit 7.
    const PageSize size = mapped.pages_2m != 0 ? PageSize::k2MiB : PageSize::k4KiB;
    klog::Line line(klog::Level::kInfo, "mmio");
    line.msg("map").msg(what).kv("pa", klog::hex(pa)).kv("va", klog::hex(va))
        .kv("size", klog::size(length));
    if (mapped.pages_2m != 0) line.kv("pages-4k", mapped.pages_4k).kv("pages-2m", mapped.pages_2m);
    line.kv("flags", flags_text(leaf_entry_flags(policy, size), leaf_level(size)).text);
    if (mapped.pages_2m != 0 && mapped.pages_4k != 0)
        line.kv("flags-4k", flags_text(leaf_entry_flags(policy, PageSize::k4KiB)).text);
    line.kv("type", name(policy.memory_type));
}

// What IA32_APIC_BASE says, next to the MADT's address; a WARN when the two
// disagree and the MADT's is used.
void log_apic_base(const MmioDeviceAddresses& d) {
    const PhysAddr msr_base(d.apic_base_msr & x86::kApicBaseAddressMask);
    klog::info("mmio").msg("apic base").kv("msr", klog::hex(d.apic_base_msr))
        .kv("enabled", (d.apic_base_msr & x86::kApicBaseEnable) != 0).kv("mode", lapic_mode_name(d.lapic_mode))
        .kv("madt-lapic", klog::hex(d.madt_lapic));
    if (d.lapic_from_madt)
        klog::warn("mmio").msg("lapic base disagrees").kv("msr-base", klog::hex(msr_base))
            .kv("madt-lapic", klog::hex(d.madt_lapic)).kv("using", "madt");
}

// A device that gets no slot, and why: refused (WARN, by field and value),
// reached through MSRs (the LAPIC in x2APIC mode), or absent.
void log_not_mapped(const char* device, const MmioDevice& d) {
    if (!d.refusal.ok()) {
        klog::Line line(klog::Level::kWarn, "mmio");
        line.msg(device).msg("refused").kv("field", d.refusal.field).kv("value", klog::hex(d.refusal.value))
            .kv("rule", d.refusal.rule);
        if (d.overlaps != nullptr) line.kv("overlaps", d.overlaps);
    }
    if (Str(d.absent) == Str("x2apic"))
        klog::info("mmio").msg(device).msg("not mapped").kv("mode", "x2apic").kv("access", "msr");
    else
        klog::info("mmio").msg(device).msg("absent").kv("reason", d.absent);
}

}  // namespace

LapicMode lapic_mode(uint64_t apic_base_msr) {
    const bool enabled = (apic_base_msr & x86::kApicBaseEnable) != 0;
    const bool extended = (apic_base_msr & x86::kApicBaseX2Apic) != 0;
    if (!enabled) return extended ? LapicMode::kInvalid : LapicMode::kDisabled;
    return extended ? LapicMode::kX2Apic : LapicMode::kXApic;
}

const char* lapic_mode_name(LapicMode mode) {
    switch (mode) {
        case LapicMode::kDisabled: return "disabled";
        case LapicMode::kInvalid: return "invalid";
        case LapicMode::kXApic: return "xapic";
        case LapicMode::kX2Apic: return "x2apic";
    }
    return "?";
}

namespace {

// What a device page may not overlap: the framebuffer and the devices accepted before it.
struct Claim {
    const char* name;
    PhysAddr start;
    PhysAddr end;  // exclusive
};

// lab:begin place-device
// The page holding `pa` for a device whose address came from `field`:
// present, or refused by the first rule it breaks.
MmioDevice place_device(const char* field, PhysAddr pa, const MemoryRangeList& ranges, const Claim* claims,
                        size_t claim_count) {
    MmioDevice d;
    d.pa = pa;
    if (pa.value() >= PhysAddr::kLimit) {
        d.absent = "refused";
        d.refusal = reject(field, pa.value(), "must be below 2^52");
        return d;
    }
    const PhysAddr page = pa.page_base();
    // Ranges are whole pages (UEFI's 4 KiB), so the page is RAM when its start is.
    if (const MemoryRange* range = ranges.find(page); range != nullptr && is_ram(*range)) {
        d.absent = "refused";
        d.refusal = reject(field, pa.value(), "must not lie in RAM");
        d.overlaps = range_kind_name(range->kind);
        return d;
    }
    for (size_t i = 0; i < claim_count; ++i) {
        if (page < claims[i].end && claims[i].start < page + kPageSize) {
            d.absent = "refused";
            d.refusal = reject(field, pa.value(), "must not overlap another device or the framebuffer");
            d.overlaps = claims[i].name;
            return d;
        }
    }
    d.present = true;
    d.absent = nullptr;
    return d;
}
// lab:end place-device

}  // namespace

MmioDeviceAddresses mmio_device_addresses(uint64_t apic_base_msr, const acpi::AcpiDevices& acpi,
                                          const MemoryRangeList& ranges, PhysAddr framebuffer,
                                          uint64_t framebuffer_size) {
    MmioDeviceAddresses out;
    out.apic_base_msr = apic_base_msr;
    out.lapic_mode = lapic_mode(apic_base_msr);
    out.madt_lapic = acpi.has_madt ? acpi.madt_local_apic : PhysAddr();
    out.madt = acpi.has_madt ? acpi.madt : PhysAddr();
    out.madt_length = acpi.has_madt ? acpi.madt_length : 0;

    Claim claims[4];
    size_t claimed = 0;
    const PhysAddr fb_page = framebuffer.page_base();
    if (!framebuffer.is_null() && framebuffer_size != 0 && fb_page.value() < PhysAddr::kLimit) {
        // The pages map_framebuffer() maps, up to the end of physical addresses at most.
        const uint64_t room = PhysAddr::kLimit - fb_page.value();
        uint64_t fb_length = 0;
        if (!align_up(framebuffer.offset_in_page() + framebuffer_size, kPageSize, &fb_length) || fb_length > room)
            fb_length = room;
        claims[claimed++] = {"framebuffer", fb_page, fb_page + fb_length};
    }
    auto accept_claim = [&](const char* name, const MmioDevice& d) {
        if (d.present) claims[claimed++] = {name, d.pa.page_base(), d.pa.page_base() + kPageSize};
    };

    // The LAPIC: only the xAPIC mode has a page to map. With EN clear the APIC
    // answers nowhere (reading "its" page reads whatever is there); in x2APIC
    // mode its registers are MSRs and the page is not decoded.
    const PhysAddr msr_base(apic_base_msr & x86::kApicBaseAddressMask);
    switch (out.lapic_mode) {
        case LapicMode::kDisabled: out.lapic.absent = "disabled"; break;
        case LapicMode::kInvalid: out.lapic.absent = "invalid-mode"; break;
        case LapicMode::kX2Apic: out.lapic.absent = "x2apic"; break;
        case LapicMode::kXApic: {
            const bool madt_differs = !out.madt_lapic.is_null() && out.madt_lapic != msr_base;
            out.lapic_from_madt = madt_differs;
            out.lapic = madt_differs ? place_device("madt.local_apic_address", out.madt_lapic, ranges, claims, claimed)
                                     : place_device("ia32_apic_base.base", msr_base, ranges, claims, claimed);
            accept_claim("lapic", out.lapic);
            break;
        }
    }
    if (acpi.ioapic_count != 0) {
        out.ioapic = place_device("madt.ioapic.address", acpi.ioapic, ranges, claims, claimed);
        accept_claim("ioapic", out.ioapic);
    }
    if (acpi.has_hpet) {
        out.hpet = place_device("hpet.address", acpi.hpet, ranges, claims, claimed);
        accept_claim("hpet", out.hpet);
    }
    return out;
}

void refuse_devices_on_acpi_tables(MmioDeviceAddresses* devices, const acpi::AcpiTableFrames& tables) {
    const struct {
        MmioDevice& device;
        const char* field;
    } all[] = {{devices->lapic, devices->lapic_from_madt ? "madt.local_apic_address" : "ia32_apic_base.base"},
               {devices->ioapic, "madt.ioapic.address"},
               {devices->hpet, "hpet.address"}};
    for (const auto& d : all) {
        if (!d.device.present || !tables.contains(d.device.pa.page_base())) continue;
        d.device.present = false;
        d.device.absent = "refused";
        d.device.refusal = reject(d.field, d.device.pa.value(), kRefusedOnAcpiTable);
        d.device.overlaps = "acpi-table";
    }
}

// book:begin map-mmio-devices
MapResult map_mmio_devices(PageTableBuilder& builder, const MmioDeviceAddresses& devices, CpuPagingFeatures cpu,
                           MmioDevices* out) {
    const MappingPolicy policy = fit_to_cpu(kMmioPolicy, cpu);
    log_apic_base(devices);
    struct Device {
        const char* name;
        const MmioDevice& decided;
        VirtAddr* va;
    };
    const Device list[] = {
        {"lapic", devices.lapic, &out->lapic},
        {"ioapic", devices.ioapic, &out->ioapic},
        {"hpet", devices.hpet, &out->hpet},
    };
    *out = {};
    out->lapic_mode = devices.lapic_mode;
    VirtAddr slot = layout::kMmioWindowBase;  // consecutive 4 KiB slots, in the order above
    MapStats phase;
    uint64_t mapped_devices = 0;
    for (const Device& d : list) {
        if (!d.decided.present) {
            log_not_mapped(d.name, d.decided);
            continue;
        }
        // Each register block is smaller than a page; the page holding it is mapped.
        const PhysAddr pa = d.decided.pa;
        const MapResult mapped = builder.map_range(slot, pa.page_base(), kPageSize, policy);
        if (!mapped.ok()) {
            log_map_rejection("map_mmio_devices", d.name, slot, pa.page_base(), kPageSize, mapped);
            return mapped;
        }
        log_map(d.name, pa.page_base(), slot, kPageSize, mapped.mapped, policy);
        *d.va = slot + pa.offset_in_page();
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

#include "mm/acpi_table_window.h"

#include "mm/address_space_layout.h"
#include "mm/mapping_log.h"
#include "mm/page_table_lookup.h"
#include "support/log.h"

namespace mm::acpi {

VirtAddr acpi_table_va(PhysAddr pa) { return VirtAddr(layout::kAcpiTablesBase.value() + pa.value()); }

AcpiTableWindow::AcpiTableWindow(PageTableBuilder& builder, PhysicalMemoryAccess& tables, CpuPagingFeatures cpu)
    : builder_(builder), tables_(tables), policy_(fit_to_cpu(kAcpiTablesPolicy, cpu)) {}

// book:begin acpi-window-map
bool AcpiTableWindow::map(PhysAddr pa, uint64_t length, const char** refusal) {
    const uint64_t end = pa.value() + length;  // the reader checked it does not overflow
    if (end > layout::kAcpiTablesWindowSize) {
        *refusal = kRefusedBeyondWindow;
        return false;
    }
    for (PhysAddr frame = pa.page_base(); frame.value() < end; frame = frame + kPageSize) {
        if (frames_.contains(frame)) continue;
        if (frames_.count == AcpiTableFrames::kCapacity) {
            *refusal = kRefusedWindowFull;
            return false;
        }
        const VirtAddr va = acpi_table_va(frame);
        const MapResult mapped = builder_.map_range(va, frame, kPageSize, policy_);
        if (!mapped.ok()) {
            log_map_rejection("map_mmio_devices", "acpi-table", va, frame, kPageSize, mapped);
            *refusal = kRefusedMapping;
            return false;
        }
        frames_.frames[frames_.count++] = frame;
        const uint64_t flags = leaf_entry_flags(policy_, PageSize::k4KiB);
        klog::info("acpi").msg("map table-frame").kv("pa", klog::hex(frame)).kv("va", klog::hex(va))
            .kv("flags", flags_text(flags).text).kv("type", name(policy_.memory_type));
    }
    return true;
}
// book:end acpi-window-map

PhysAddr AcpiTableWindow::mapped_frame(PhysAddr pa, uint64_t length) {
    const uint64_t end = pa.value() + length;
    PhysAddr first;
    for (PhysAddr frame = pa.page_base(); frame.value() < end; frame = frame + kPageSize) {
        const Translation t = translate(builder_.root(), tables_, acpi_table_va(frame), builder_.depth());
        const bool read_only_nx = (t.flags & x86::pte::kWritable) == 0 && (t.flags & x86::pte::kNoExecute) != 0;
        if (!t.present || t.pa != frame || !read_only_nx) return PhysAddr();
        if (first.is_null()) first = t.pa;
    }
    return first + pa.offset_in_page();
}

namespace {

// How a range can be read: the way its kind allows, or the rule that refuses it.
enum class Way : uint8_t { kFirmwareRam, kWindow, kRefused };

Way way_for(const MemoryRange* range, const char** rule) {
    if (range == nullptr) return *rule = kRefusedHole, Way::kRefused;
    // Two kinds by name (both of the reserved class), the rest by class.
    if (range->kind == RangeKind::kReserved) return Way::kWindow;
    if (range->kind == RangeKind::kFramebuffer) return *rule = kRefusedFramebuffer, Way::kRefused;
    switch (range_class(range->kind)) {
        case RangeClass::kFirmware: return Way::kFirmwareRam;  // ACPI reclaim, NVS, runtime: RAM, mapped WB
        case RangeClass::kUsable:
        case RangeClass::kLoaderOwned: return *rule = kRefusedOwnedRam, Way::kRefused;
        case RangeClass::kDevice: return *rule = kRefusedDevice, Way::kRefused;
        case RangeClass::kReserved: break;
    }
    return *rule = kRefusedHole, Way::kRefused;
}

}  // namespace

// book:begin acpi-reader
const uint8_t* AcpiTableReader::bytes_at(PhysAddr pa, uint64_t length) {
    refusal_ = nullptr;
    uint64_t end = 0;
    if (length == 0 || __builtin_add_overflow(pa.value(), length, &end) || end > PhysAddr::kLimit)
        return refuse("must end below the physical address limit");
    // Every page one way: firmware RAM (already mapped WB), or reserved memory (the window).
    Way way = Way::kRefused;
    for (uint64_t page = pa.page_base().value(); page < end; page += kPageSize) {
        if (page == 0) return refuse(kRefusedPageZero);
        const char* rule = nullptr;
        const Way here = way_for(ranges_.find(PhysAddr(page)), &rule);
        if (here == Way::kRefused) return refuse(rule);
        if (page != pa.page_base().value() && here != way) return refuse(kRefusedMixed);
        way = here;
    }
    if (way == Way::kFirmwareRam) {
        const uint8_t* bytes = firmware_ram_(pa, length);
        return bytes != nullptr ? bytes : refuse(kRefusedUnreachable);
    }
    const char* rule = nullptr;
    if (!window_.map(pa, length, &rule)) return refuse(rule);
    const PhysAddr frame = window_.mapped_frame(pa, length);
    if (frame.is_null()) return refuse(kRefusedMapping);
    const uint8_t* bytes = mapped_(frame, length);
    return bytes != nullptr ? bytes : refuse(kRefusedMapping);
}
// book:end acpi-reader

}  // namespace mm::acpi

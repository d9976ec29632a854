// Fuzz target: the ACPI reader over an arbitrary "physical memory", then the
// device decision on what it found. The input is a 2-byte little-endian RSDP
// offset, then the bytes the tables live in, seen at AcpiImage::kBase. Each
// read hands the parser an exact-size copy of the range it asked for, so
// reading one byte past what it asked for is an ASan report, not a lucky
// pass. After every input: the result is the same twice, an accepted one
// reports only addresses it could have mapped, and for each kind of
// IA32_APIC_BASE value the devices mmio_device_addresses() keeps are outside
// RAM, outside the framebuffer and on pages of their own; and chapter 15's
// processor list read from the same MADT keeps its invariants.
#include <cstdint>
#include <memory>
#include <vector>

#include "acpi_builder.h"
#include "mm/acpi_tables.h"
#include "mm/madt_cpus.h"
#include "fuzz_check.h"
#include "memory_map_builder.h"
#include "mm/mmio_map.h"
#include "mm/ram_runs.h"

namespace {

class ExactReads final : public mm::acpi::AcpiMemory {
public:
    ExactReads(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    const uint8_t* bytes_at(mm::PhysAddr pa, uint64_t length) override {
        if (pa.value() < AcpiImage::kBase) return nullptr;
        const uint64_t offset = pa.value() - AcpiImage::kBase;
        if (offset > size_ || length > size_ - offset || length == 0) return nullptr;
        copies_.emplace_back(new uint8_t[length]);
        __builtin_memcpy(copies_.back().get(), data_ + offset, length);
        return copies_.back().get();
    }

private:
    const uint8_t* data_;
    size_t size_;
    std::vector<std::unique_ptr<uint8_t[]>> copies_;
};

// RAM below the tables and the tables themselves (ACPI reclaim), a device
// range, and the framebuffer above it: addresses the tables name can land in each.
constexpr uint64_t kFramebuffer = 0xC000'0000, kFramebufferSize = 4 * 1024 * 1024;
const mm::MemoryRangeList& fuzz_ranges() {
    static const mm::MemoryRangeList ranges = [] {
        FakeMemoryMap map;
        map.add(boot::EfiMemoryType::kConventional, 0, AcpiImage::kBase / 4096)
            .add(boot::EfiMemoryType::kAcpiReclaim, AcpiImage::kBase, 0x200)
            .add(boot::EfiMemoryType::kMmio, 0xB000'0000, 0x1'0000, 0);
        mm::MemoryRangeList list;
        FUZZ_CHECK(list.build(map.view()).ok());
        return list;
    }();
    return ranges;
}

void check_devices(const mm::acpi::AcpiDevices& acpi, uint64_t msr) {
    const mm::MmioDeviceAddresses a =
        mm::mmio_device_addresses(msr, acpi, fuzz_ranges(), mm::PhysAddr(kFramebuffer), kFramebufferSize);
    const mm::MmioDevice* devices[] = {&a.lapic, &a.ioapic, &a.hpet};
    if (a.lapic.present) FUZZ_CHECK(a.lapic_mode == mm::LapicMode::kXApic);
    if (acpi.ioapic_count == 0) FUZZ_CHECK(!a.ioapic.present && a.ioapic.refusal.ok());
    if (!acpi.has_hpet) FUZZ_CHECK(!a.hpet.present && a.hpet.refusal.ok());
    for (size_t i = 0; i < 3; ++i) {
        const mm::MmioDevice& d = *devices[i];
        if (!d.present) {
            FUZZ_CHECK(d.absent != nullptr);
            if (!d.refusal.ok()) FUZZ_CHECK(d.refusal.rule != nullptr && d.refusal.value == d.pa.value());
            continue;
        }
        FUZZ_CHECK(d.refusal.ok() && d.pa.value() < mm::PhysAddr::kLimit);
        const mm::PhysAddr page = d.pa.page_base();
        const mm::MemoryRange* range = fuzz_ranges().find(page);
        FUZZ_CHECK(range == nullptr || !mm::is_ram(*range));
        FUZZ_CHECK(page.value() + 4096 <= kFramebuffer || page.value() >= kFramebuffer + kFramebufferSize);
        for (size_t j = 0; j < i; ++j)
            if (devices[j]->present) FUZZ_CHECK(devices[j]->pa.page_base() != page);
    }
}

// Chapter 15's reading of the same MADT (an exact-size copy again): the BSP
// first and once, no ID twice, the placeholders never listed, the counts
// adding up to no more entries than the table has room for.
void check_cpus(const mm::acpi::AcpiDevices& acpi, ExactReads& memory) {
    FUZZ_CHECK(acpi.madt_length >= mm::acpi::kMadtFixedLength);
    const uint8_t* madt = memory.bytes_at(acpi.madt, acpi.madt_length);
    FUZZ_CHECK(madt != nullptr);
    static mm::acpi::MadtCpus cpus;
    const uint32_t bsp = madt[36];  // any ID will do; one the table may or may not list
    if (!mm::acpi::read_madt_cpus(madt, acpi.madt_length, bsp, &cpus).ok()) return;
    FUZZ_CHECK(cpus.count >= 1 && cpus.count <= mm::acpi::MadtCpus::kCapacity && cpus.cpu[0].apic_id == bsp);
    for (size_t i = 0; i < cpus.count; ++i) {
        FUZZ_CHECK(i == 0 || cpus.cpu[i].apic_id != (cpus.cpu[i].x2apic_entry ? mm::acpi::kNoX2ApicId : mm::acpi::kNoXApicId));
        for (size_t j = 0; j < i; ++j) FUZZ_CHECK(cpus.cpu[i].apic_id != cpus.cpu[j].apic_id);
    }
    const uint64_t entries = uint64_t(cpus.xapic_entries) + cpus.x2apic_entries;
    FUZZ_CHECK(entries <= (acpi.madt_length - mm::acpi::kMadtFixedLength) / mm::acpi::kMadtLocalApicLength);
    FUZZ_CHECK(cpus.count - 1 + cpus.online_capable + cpus.unusable + cpus.invalid_ids + cpus.duplicates +
                   cpus.beyond_capacity <= entries);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint16_t rsdp_offset = take<uint16_t>(data, size);
    const mm::PhysAddr rsdp(AcpiImage::kBase + rsdp_offset);

    mm::acpi::AcpiDevices first, second;
    ExactReads memory_a(data, size), memory_b(data, size);
    const Violation a = mm::acpi::find_acpi_devices(rsdp, memory_a, &first);
    const Violation b = mm::acpi::find_acpi_devices(rsdp, memory_b, &second);
    FUZZ_CHECK(a.ok() == b.ok());
    if (!a.ok()) {
        FUZZ_CHECK(a.field == b.field && a.value == b.value && a.index == b.index && a.rule != nullptr);
        return 0;
    }
    FUZZ_CHECK(first.ioapic == second.ioapic && first.hpet == second.hpet);
    FUZZ_CHECK(first.null_entries == second.null_entries && first.unreadable_entries == second.unreadable_entries);
    if (first.uses_xsdt) FUZZ_CHECK(first.rsdp_revision >= 2);  // revision >= 2 may still use its RSDT
    FUZZ_CHECK(!first.root_table.is_null());
    FUZZ_CHECK(first.root_entries <= (mm::acpi::kMaxTableLength - mm::acpi::kHeaderLength) / 4);
    FUZZ_CHECK(uint64_t(first.null_entries) + first.unreadable_entries <= first.root_entries);
    if (first.unreadable_entries != 0) FUZZ_CHECK(first.first_unreadable_index < first.root_entries);
    if (first.ioapic_count != 0) FUZZ_CHECK(first.has_madt && !first.ioapic.is_null());
    if (first.has_hpet) FUZZ_CHECK(!first.hpet.is_null() && first.hpet.value() < mm::PhysAddr::kLimit);
    // Each mode of IA32_APIC_BASE: xAPIC at the usual base, disabled, EXTD alone, x2APIC.
    for (uint64_t msr : {0xFEE0'0900ull, 0x100ull, 0xFEE0'0500ull, 0xFEE0'0D00ull}) check_devices(first, msr);
    if (first.has_madt) check_cpus(first, memory_a);
    return 0;
}

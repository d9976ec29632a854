// Fuzz target: the ACPI reader over an arbitrary "physical memory". The input
// is a 2-byte little-endian RSDP offset, then the bytes the tables live in,
// seen at AcpiImage::kBase. Each read hands the parser an exact-size copy of
// the range it asked for, so reading one byte past what it asked for is an
// ASan report, not a lucky pass. After every input: the result is the same
// twice, and an accepted one reports only addresses it could have mapped.
#include <cstdint>
#include <memory>
#include <vector>

#include "acpi_builder.h"
#include "acpi_tables.h"
#include "fuzz_check.h"

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
    return 0;
}

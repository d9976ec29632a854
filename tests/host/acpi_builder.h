// Synthetic ACPI tables for host tests, the fuzz target and its seeds: an
// RSDP, an XSDT or RSDT, a MADT and an HPET table laid out in a buffer that
// poses as physical memory at `base`, with correct checksums unless a test
// breaks one on purpose.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "mm/acpi_tables.h"

// A buffer of bytes the parser sees at physical address `base`; reads outside
// it return nullptr, as the kernel's reader does for memory it cannot reach.
class FakeAcpiMemory final : public mm::acpi::AcpiMemory {
public:
    FakeAcpiMemory(uint64_t base, std::vector<uint8_t> bytes) : base_(base), bytes_(std::move(bytes)) {}

    const uint8_t* bytes_at(mm::PhysAddr pa, uint64_t length) override {
        if (pa.value() < base_) return nullptr;
        const uint64_t offset = pa.value() - base_;
        if (offset > bytes_.size() || length > bytes_.size() - offset) return nullptr;
        return bytes_.data() + offset;
    }

private:
    uint64_t base_;
    std::vector<uint8_t> bytes_;
};

struct AcpiImage {
    static constexpr uint64_t kBase = 0x7FE0'0000;  // where the fake tables "are"

    std::vector<uint8_t> bytes;
    uint64_t rsdp_offset = 0, root_offset = 0, madt_offset = 0, hpet_offset = 0, extra_offset = 0;
    uint64_t rsdt_offset = 0;  // the RSDT next to an XSDT (AcpiOptions::rsdt_too), else 0

    uint64_t pa(uint64_t offset) const { return kBase + offset; }
    FakeAcpiMemory memory() const { return FakeAcpiMemory(kBase, bytes); }

    template <typename T>
    void put(uint64_t offset, T value) { std::memcpy(bytes.data() + offset, &value, sizeof(T)); }
    template <typename T>
    T get(uint64_t offset) const {
        T value;
        std::memcpy(&value, bytes.data() + offset, sizeof(T));
        return value;
    }
    // Recomputes the checksum byte at `checksum_at` over [offset, offset + length).
    void fix_checksum(uint64_t offset, uint64_t length, uint64_t checksum_at) {
        bytes[checksum_at] = 0;
        uint8_t sum = 0;
        for (uint64_t i = 0; i < length; ++i) sum = uint8_t(sum + bytes[offset + i]);
        bytes[checksum_at] = uint8_t(0 - sum);
    }
    // An SDT's own checksum, after its bytes were changed.
    void fix_table(uint64_t offset) { fix_checksum(offset, get<uint32_t>(offset + 4), offset + 9); }
    // Both RSDP checksums, after its bytes were changed.
    void fix_rsdp() {
        fix_checksum(rsdp_offset, 20, rsdp_offset + 8);
        if (bytes[rsdp_offset + 15] >= 2) fix_checksum(rsdp_offset, 36, rsdp_offset + 32);
    }
};

struct AcpiOptions {
    uint8_t rsdp_revision = 2;  // 0: RSDT only
    bool with_madt = true;
    bool with_hpet = true;
    uint32_t ioapic_address = 0xFEC0'0000;
    uint64_t hpet_address = 0xFED0'0000;
    uint32_t madt_lapic_address = 0xFEE0'0000;
    bool extra_table = true;  // an unrelated "FACP" the parser must skip
    // Firmware quirks the reader must tolerate:
    bool null_entry = false;          // a 0 entry first in the root table (EDK2 keeps one for the FADT)
    uint64_t outside_entry = 0;       // nonzero: an entry second in the root table, pointing there
    bool xsdt_address_zero = false;   // revision >= 2, but XsdtAddress 0: the root table is an RSDT
    bool rsdt_too = false;            // revision >= 2: an RSDT as well as the XSDT, listing the same tables
};

// Writes the tables in the order RSDP, root, MADT, HPET, FACP (then the RSDT
// of rsdt_too), each 16-byte aligned.
inline AcpiImage build_acpi(const AcpiOptions& o = {}) {
    AcpiImage img;
    auto reserve = [&](uint64_t length) {
        const uint64_t at = (img.bytes.size() + 15) & ~uint64_t(15);
        img.bytes.resize(at + length, 0);
        return at;
    };
    auto header = [&](uint64_t at, const char* sig, uint32_t length) {
        std::memcpy(img.bytes.data() + at, sig, 4);
        img.put<uint32_t>(at + 4, length);
        img.bytes[at + 8] = 1;                                  // revision
        std::memcpy(img.bytes.data() + at + 10, "TUTOR ", 6);   // OEM ID
    };

    img.rsdp_offset = reserve(36);
    const bool xsdt = o.rsdp_revision >= 2 && !o.xsdt_address_zero;
    const uint64_t entry_size = xsdt ? 8 : 4;
    const unsigned tables = unsigned(o.with_madt) + unsigned(o.with_hpet) + unsigned(o.extra_table) +
                            unsigned(o.null_entry) + unsigned(o.outside_entry != 0);
    const uint32_t root_length = uint32_t(mm::acpi::kHeaderLength + tables * entry_size);
    img.root_offset = reserve(root_length);
    header(img.root_offset, xsdt ? "XSDT" : "RSDT", root_length);

    std::vector<uint64_t> entries;
    if (o.with_madt) {
        // Fixed part, a local APIC (type 0, 8 bytes), an IOAPIC (type 1, 12 bytes),
        // an interrupt source override (type 2, 10 bytes).
        const uint32_t length = 44 + 8 + 12 + 10;
        img.madt_offset = reserve(length);
        header(img.madt_offset, "APIC", length);
        img.put<uint32_t>(img.madt_offset + 36, o.madt_lapic_address);
        img.put<uint32_t>(img.madt_offset + 40, 1);  // PCAT_COMPAT
        uint64_t at = img.madt_offset + 44;
        img.bytes[at] = 0; img.bytes[at + 1] = 8; img.bytes[at + 3] = 0; img.put<uint32_t>(at + 4, 1);
        at += 8;
        img.bytes[at] = 1; img.bytes[at + 1] = 12; img.bytes[at + 2] = 2;  // IOAPIC id 2
        img.put<uint32_t>(at + 4, o.ioapic_address);
        img.put<uint32_t>(at + 8, 0);
        at += 12;
        img.bytes[at] = 2; img.bytes[at + 1] = 10; img.bytes[at + 3] = 0; img.put<uint32_t>(at + 4, 2);
        img.fix_table(img.madt_offset);
        entries.push_back(img.pa(img.madt_offset));
    }
    if (o.with_hpet) {
        img.hpet_offset = reserve(mm::acpi::kHpetTableLength);
        header(img.hpet_offset, "HPET", uint32_t(mm::acpi::kHpetTableLength));
        img.put<uint32_t>(img.hpet_offset + 36, 0x8086'A201);  // event timer block id
        img.bytes[img.hpet_offset + 40] = 0;                    // system memory
        img.bytes[img.hpet_offset + 41] = 64;                   // register bit width
        img.put<uint64_t>(img.hpet_offset + 44, o.hpet_address);
        img.bytes[img.hpet_offset + 52] = 0;                    // HPET number
        img.fix_table(img.hpet_offset);
        entries.push_back(img.pa(img.hpet_offset));
    }
    if (o.extra_table) {
        img.extra_offset = reserve(64);
        header(img.extra_offset, "FACP", 64);
        img.fix_table(img.extra_offset);
        entries.insert(entries.begin(), img.pa(img.extra_offset));  // first, so the parser must skip it
    }
    if (o.outside_entry != 0) entries.insert(entries.begin() + (entries.empty() ? 0 : 1), o.outside_entry);
    if (o.null_entry) entries.insert(entries.begin(), 0);
    auto write_entries = [&](uint64_t root, uint64_t size) {
        for (size_t i = 0; i < entries.size(); ++i) {
            const uint64_t at = root + mm::acpi::kHeaderLength + i * size;
            if (size == 8) img.put<uint64_t>(at, entries[i]);
            else img.put<uint32_t>(at, uint32_t(entries[i]));
        }
        img.fix_table(root);
    };
    write_entries(img.root_offset, entry_size);
    if (o.rsdt_too && xsdt) {
        const uint32_t length = uint32_t(mm::acpi::kHeaderLength + entries.size() * 4);
        img.rsdt_offset = reserve(length);
        header(img.rsdt_offset, "RSDT", length);
        write_entries(img.rsdt_offset, 4);
    }

    const uint64_t r = img.rsdp_offset;
    std::memcpy(img.bytes.data() + r, "RSD PTR ", 8);
    std::memcpy(img.bytes.data() + r + 9, "TUTOR ", 6);
    img.bytes[r + 15] = o.rsdp_revision;
    const uint64_t rsdt = !xsdt ? img.pa(img.root_offset) : img.rsdt_offset != 0 ? img.pa(img.rsdt_offset) : 0;
    img.put<uint32_t>(r + 16, uint32_t(rsdt));
    if (o.rsdp_revision >= 2) {
        img.put<uint32_t>(r + 20, 36);
        img.put<uint64_t>(r + 24, xsdt ? img.pa(img.root_offset) : 0);
    }
    img.fix_rsdp();
    return img;
}

#include "mm/acpi_tables.h"

namespace mm::acpi {
namespace {

// Fields are little-endian and not necessarily aligned: read them byte by byte.
uint64_t read_le(const uint8_t* p, unsigned bytes) {
    uint64_t value = 0;
    for (unsigned i = 0; i < bytes; ++i) value |= uint64_t(p[i]) << (8 * i);
    return value;
}
uint32_t le32(const uint8_t* p) { return uint32_t(read_le(p, 4)); }
uint64_t le64(const uint8_t* p) { return read_le(p, 8); }

constexpr uint32_t signature(const char (&text)[5]) {
    return uint32_t(uint8_t(text[0])) | uint32_t(uint8_t(text[1])) << 8 | uint32_t(uint8_t(text[2])) << 16 |
           uint32_t(uint8_t(text[3])) << 24;
}

// ACPI 6.5, 5.2.5.3 and 5.2.6: a table is valid when all its bytes sum to 0 (mod 256).
uint8_t byte_sum(const uint8_t* p, uint64_t length) {
    uint8_t sum = 0;
    for (uint64_t i = 0; i < length; ++i) sum = uint8_t(sum + p[i]);
    return sum;
}

constexpr uint64_t kRsdpSignature = 0x2052'5450'2044'5352ull;  // "RSD PTR " read little-endian

// The names a table's violations carry: string literals, since a Violation
// keeps only the pointer.
struct TableKind {
    uint32_t signature;
    uint64_t min_length;
    const char* address;    // "xsdt"
    const char* signature_field;
    const char* length_field;
    const char* checksum_field;
};

constexpr TableKind kXsdt = {signature("XSDT"), kHeaderLength, "xsdt", "xsdt.signature", "xsdt.length",
                             "xsdt.checksum"};
constexpr TableKind kRsdt = {signature("RSDT"), kHeaderLength, "rsdt", "rsdt.signature", "rsdt.length",
                             "rsdt.checksum"};
constexpr TableKind kMadt = {signature("APIC"), kMadtFixedLength, "madt", "madt.signature", "madt.length",
                             "madt.checksum"};
constexpr TableKind kHpet = {signature("HPET"), kHpetTableLength, "hpet", "hpet.signature", "hpet.length",
                             "hpet.checksum"};

constexpr const char* kUnreadable = "must point to readable memory";

// The rule a failed read broke: the reader's own, or kUnreadable.
const char* unreadable(const AcpiMemory& memory) {
    const char* rule = memory.refusal();
    return rule != nullptr ? rule : kUnreadable;
}
constexpr const char* kBadSum = "the table's bytes must sum to 0 (mod 256)";
constexpr const char* kLengthRule = "must cover the table's fixed part and be at most 64KiB";

// book:begin load-table
// A whole table: signature, bounded length, every byte readable, checksum.
// `index` names the root-table entry that pointed here (or kNoIndex).
Violation load_table(AcpiMemory& memory, PhysAddr pa, const TableKind& kind, uint64_t index,
                     const uint8_t** table, uint32_t* length) {
    const uint8_t* header = memory.bytes_at(pa, kHeaderLength);
    if (header == nullptr) return reject(kind.address, pa.value(), unreadable(memory), index);
    if (le32(header) != kind.signature)
        return reject(kind.signature_field, le32(header), "must match the table it was reached as", index);
    const uint32_t n = le32(header + 4);
    if (n < kind.min_length || n > kMaxTableLength) return reject(kind.length_field, n, kLengthRule, index);
    const uint8_t* bytes = memory.bytes_at(pa, n);
    if (bytes == nullptr) return reject(kind.length_field, n, "must not run past readable memory", index);
    if (const uint8_t sum = byte_sum(bytes, n); sum != 0) return reject(kind.checksum_field, sum, kBadSum, index);
    *table = bytes;
    *length = n;
    return accept();
}
// book:end load-table

// ---- MADT (ACPI 6.5, 5.2.12) --------------------------------------------------

constexpr uint8_t kMadtIoApic = 1;               // 5.2.12.3: 12 bytes
constexpr uint8_t kMadtLocalApicOverride = 5;    // 5.2.12.8: 12 bytes, a 64-bit local APIC address
constexpr uint64_t kMadtIoApicLength = 12;
constexpr uint64_t kMadtOverrideLength = 12;

Violation read_madt(const uint8_t* madt, uint32_t length, AcpiDevices* out) {
    out->has_madt = true;
    out->madt_local_apic = PhysAddr(le32(madt + 36));
    uint64_t entry = 0;
    for (uint32_t at = kMadtFixedLength; at < length; ++entry) {
        if (length - at < 2) return reject("madt.entry.length", length - at, "entry header must fit in the table", entry);
        const uint8_t type = madt[at];
        const uint8_t entry_length = madt[at + 1];
        if (entry_length < 2 || entry_length > length - at)
            return reject("madt.entry.length", entry_length, "must be at least 2 and end inside the table", entry);
        const uint8_t* e = madt + at;
        if (type == kMadtIoApic) {
            if (entry_length != kMadtIoApicLength) return reject("madt.ioapic.length", entry_length, "must be 12", entry);
            const uint32_t address = le32(e + 4);
            if (address == 0) return reject("madt.ioapic.address", address, "must not be 0", entry);
            if (out->ioapic_count++ == 0) {
                out->ioapic_id = e[2];
                out->ioapic = PhysAddr(address);
                out->ioapic_gsi_base = le32(e + 8);
            }
        } else if (type == kMadtLocalApicOverride) {
            if (entry_length != kMadtOverrideLength)
                return reject("madt.lapic_override.length", entry_length, "must be 12", entry);
            out->madt_local_apic = PhysAddr(le64(e + 4));
        }
        at += entry_length;
    }
    return accept();
}

// ---- HPET (IA-PC HPET specification 1.0a, 3.2.4) -------------------------------

Violation read_hpet(const uint8_t* hpet, AcpiDevices* out) {
    // Base address: a Generic Address Structure (ACPI 6.5, 5.2.3.2) at offset 40.
    const uint8_t address_space = hpet[40];
    if (address_space != 0) return reject("hpet.address_space", address_space, "must be 0 (system memory)");
    const uint64_t address = le64(hpet + 44);
    if (address == 0 || address >= PhysAddr::kLimit)
        return reject("hpet.address", address, "must be nonzero and below 2^52");
    out->has_hpet = true;
    out->hpet = PhysAddr(address);
    out->hpet_number = hpet[52];
    return accept();
}

// ---- RSDP (ACPI 6.5, 5.2.5) ------------------------------------------------------

Violation read_rsdp(PhysAddr rsdp, AcpiMemory& memory, AcpiDevices* out) {
    const uint8_t* p = memory.bytes_at(rsdp, kRsdpV1Length);
    if (p == nullptr) return reject("rsdp", rsdp.value(), unreadable(memory));
    if (le64(p) != kRsdpSignature) return reject("rsdp.signature", le64(p), "must be \"RSD PTR \"");
    if (const uint8_t sum = byte_sum(p, kRsdpV1Length); sum != 0)
        return reject("rsdp.checksum", sum, "the first 20 bytes must sum to 0 (mod 256)");
    out->rsdp_revision = p[15];
    const uint32_t rsdt = le32(p + 16);
    uint64_t xsdt = 0;
    if (out->rsdp_revision >= 2) {
        p = memory.bytes_at(rsdp, kRsdpV2Length);
        if (p == nullptr) return reject("rsdp", rsdp.value(), unreadable(memory));
        const uint32_t length = le32(p + 20);
        if (length < kRsdpV2Length || length > kMaxTableLength)
            return reject("rsdp.length", length, "must be at least 36 and at most 64KiB");
        p = memory.bytes_at(rsdp, length);
        if (p == nullptr) return reject("rsdp.length", length, "must not run past readable memory");
        if (const uint8_t sum = byte_sum(p, length); sum != 0)
            return reject("rsdp.extended_checksum", sum, "all Length bytes must sum to 0 (mod 256)");
        xsdt = le64(p + 24);
        if (xsdt >= PhysAddr::kLimit) return reject("rsdp.xsdt_address", xsdt, "must be below 2^52");
    }
    // ACPICA's choice: the XSDT when the RSDP is revision 2 or later and the
    // XSDT's address is not 0, otherwise the RSDT, in a revision-2 RSDP too.
    // With both there, the XSDT wins.
    out->uses_xsdt = xsdt != 0;
    if (out->uses_xsdt) {
        out->root_table = PhysAddr(xsdt);
        return accept();
    }
    if (rsdt == 0)
        return reject("rsdp.rsdt_address", rsdt,
                      out->rsdp_revision >= 2 ? "must not be 0 when xsdt_address is 0" : "must not be 0");
    out->root_table = PhysAddr(rsdt);
    return accept();
}

}  // namespace

Violation find_acpi_devices(PhysAddr rsdp, AcpiMemory& memory, AcpiDevices* out) {
    *out = AcpiDevices{};
    if (Violation v = read_rsdp(rsdp, memory, out); !v.ok()) return v;

    const TableKind& root_kind = out->uses_xsdt ? kXsdt : kRsdt;
    const uint64_t entry_size = out->uses_xsdt ? 8 : 4;
    const uint8_t* root = nullptr;
    uint32_t root_length = 0;
    if (Violation v = load_table(memory, out->root_table, root_kind, Violation::kNoIndex, &root, &root_length); !v.ok())
        return v;
    if ((root_length - kHeaderLength) % entry_size != 0)
        return reject(root_kind.length_field, root_length, "must be the header plus whole entries");
    out->root_entries = uint32_t((root_length - kHeaderLength) / entry_size);

    // The first MADT and the first HPET table listed. Of every entry only the
    // 4-byte signature is read, to know what the table is; a table the kernel
    // does not use is never read further. Its length and checksum are not the
    // kernel's business: ACPICA checks every table's checksum when it installs
    // it and by default only warns, because real firmware ships tables with
    // wrong ones, and a warning about a table nothing here reads would tell a
    // reader nothing. Not reading them also keeps a broken table we do not
    // need (or one outside the RAM we can read) from stopping the boot.
    for (uint64_t i = 0; i < out->root_entries; ++i) {
        const uint64_t address = read_le(root + kHeaderLength + i * entry_size, unsigned(entry_size));
        if (address == 0) {  // ACPICA skips these too; EDK2 keeps an empty slot for the FADT
            ++out->null_entries;
            continue;
        }
        const uint8_t* signature_bytes = address < PhysAddr::kLimit ? memory.bytes_at(PhysAddr(address), 4) : nullptr;
        if (signature_bytes == nullptr) {  // not a table we can know anything about: skipped, counted
            if (out->unreadable_entries++ == 0) {
                out->first_unreadable_index = uint32_t(i);
                out->first_unreadable_address = address;
                out->first_unreadable_rule = address < PhysAddr::kLimit ? unreadable(memory) : "must be below 2^52";
            }
            continue;
        }
        const uint32_t sig = le32(signature_bytes);
        const uint8_t* table = nullptr;
        uint32_t length = 0;
        if (sig == kMadt.signature && !out->has_madt) {
            if (Violation v = load_table(memory, PhysAddr(address), kMadt, i, &table, &length); !v.ok()) return v;
            if (Violation v = read_madt(table, length, out); !v.ok()) return v;
            out->madt = PhysAddr(address);
            out->madt_length = length;
        } else if (sig == kHpet.signature && !out->has_hpet) {
            if (Violation v = load_table(memory, PhysAddr(address), kHpet, i, &table, &length); !v.ok()) return v;
            if (Violation v = read_hpet(table, out); !v.ok()) return v;
        }
    }
    return accept();
}

}  // namespace mm::acpi

// find_acpi_devices(): where the IOAPIC and the HPET are, read from the
// firmware's ACPI tables, every byte of them distrusted.
//
//   RSDP ──> XSDT (revision >= 2, address != 0; 64-bit pointers) ──> "APIC" (MADT) ──> IOAPIC entries (type 1)
//       └──> RSDT (otherwise; 32-bit pointers)                     └─> "HPET"        ──> the HPET's register block
//
// Sections of the ACPI specification (6.5): 5.2.5 RSDP, 5.2.6 the system
// description table header, 5.2.7 RSDT, 5.2.8 XSDT, 5.2.12 MADT with 5.2.12.3
// the I/O APIC structure; the HPET table is in the IA-PC HPET specification
// 1.0a, 3.2.4.
//
// The parser is pure: it reaches the tables through AcpiMemory, one
// "physical range -> pointer" call, so it runs on the identity map, on the
// phys-offset window, and on host test buffers alike.
//
// Strict where the kernel acts on what it reads, tolerant elsewhere, as real
// firmware needs:
//   - the tables it uses (the RSDP, the root table, the MADT, the HPET table)
//     must have their signature, a length inside sane bounds and a checksum
//     that sums their bytes to zero; the first that does not is returned as a
//     Violation naming the table and the field;
//   - every other table is only identified by its 4-byte signature, never
//     read further, so its checksum is neither checked nor warned about;
//   - a null root-table entry is skipped and counted (EDK2 leaves such a slot),
//     and so is an entry pointing where the reader cannot read;
//   - a revision-2 RSDP whose XSDT address is 0 is read through its RSDT;
//   - a missing HPET, MADT or IOAPIC is not an error (machines without them
//     exist): the result says absent.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/phys_addr.h"
#include "support/violation.h"

namespace mm::acpi {

// How the parser reads [pa, pa + length): a pointer to those bytes, or nullptr
// when the range cannot be read (not memory, or past what the reader covers).
// The kernel's reader (acpi_table_window.h) checks each range against the
// memory map first, so a corrupt table pointer into a device range, a hole or
// RAM the kernel owns is reported as unreadable, with refusal() saying why,
// instead of being followed.
class AcpiMemory {
public:
    virtual const uint8_t* bytes_at(PhysAddr pa, uint64_t length) = 0;
    // After bytes_at() returned nullptr: the rule the range broke (a string
    // literal), or nullptr to let the parser say "must point to readable memory".
    virtual const char* refusal() const { return nullptr; }

protected:
    ~AcpiMemory() = default;
};

// A table larger than this is taken for garbage: real MADTs and XSDTs are a
// few hundred bytes, and the bound keeps a corrupt length from walking memory.
inline constexpr uint32_t kMaxTableLength = 64 * 1024;

inline constexpr uint64_t kRsdpV1Length = 20;   // ACPI 1.0 RSDP: checksum covers these
inline constexpr uint64_t kRsdpV2Length = 36;   // ACPI 2.0+: Length, XsdtAddress, extended checksum
inline constexpr uint64_t kHeaderLength = 36;   // every system description table begins with this
inline constexpr uint64_t kMadtFixedLength = 44;  // header + local APIC address + flags
inline constexpr uint64_t kHpetTableLength = 56;  // header + the HPET description

struct AcpiDevices {
    uint8_t rsdp_revision = 0;
    bool uses_xsdt = false;       // revision >= 2 with a nonzero XSDT address: the XSDT, else the RSDT
    PhysAddr root_table;          // the XSDT or RSDT
    uint32_t root_entries = 0;    // entries it lists, null ones included
    uint32_t null_entries = 0;    // entries that were 0: skipped
    uint32_t unreadable_entries = 0;  // entries pointing where the reader cannot read: skipped
    uint32_t first_unreadable_index = 0;  // the first of those, for the log
    uint64_t first_unreadable_address = 0;
    const char* first_unreadable_rule = nullptr;  // why the reader refused it

    bool has_madt = false;
    PhysAddr madt;                // where the MADT is, and its length: chapter 15 reads its processors
    uint32_t madt_length = 0;
    PhysAddr madt_local_apic;     // the MADT's local APIC address (an override entry, type 5, wins)
    uint32_t ioapic_count = 0;    // IOAPIC entries in the MADT; the first is reported below
    PhysAddr ioapic;
    uint8_t ioapic_id = 0;
    uint32_t ioapic_gsi_base = 0;

    bool has_hpet = false;
    PhysAddr hpet;                // the HPET's register block (system memory address space)
    uint8_t hpet_number = 0;
};

// Reads the tables from the RSDP at `rsdp` (the handoff's rsdp), whose
// revision the RSDP itself states. On success fills `*out`; on the first
// broken rule in a table it uses returns it (field names read like
// "xsdt.checksum" or "madt.entry.length", index = which entry or table) and
// `*out` is partial.
Violation find_acpi_devices(PhysAddr rsdp, AcpiMemory& memory, AcpiDevices* out);

}  // namespace mm::acpi

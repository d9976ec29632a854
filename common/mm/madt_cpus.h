// read_madt_cpus(): the processors the firmware lists in the MADT, the
// bootstrap processor (BSP) first, every byte distrusted (chapter 15).
//
// The MADT (ACPI 6.5, 5.2.12) lists one entry per processor the platform
// has, of two kinds:
//   - type 0, Processor Local APIC (5.2.12.2): an 8-bit APIC ID, 8 bytes;
//   - type 9, Processor Local x2APIC (5.2.12.12): a 32-bit x2APIC ID, 16 bytes,
//     which firmware uses for IDs of 255 and up (and may use for any).
// Both end in the same Local APIC Flags (Table 5.23):
//   bit 0 Enabled         the processor is ready to use; start it at boot;
//   bit 1 Online Capable  (MADT revision 5 and up, ACPI 6.3) it is not enabled
//                         now but the OS may bring it online later (hot add);
//                         reserved and zero when Enabled is set.
// Neither bit: the processor is unusable, the OS must not try to start it.
//
// Read the way Linux reads it (arch/x86/kernel/acpi/boot.c,
// acpi_parse_lapic / acpi_parse_x2apic / acpi_is_processor_usable), which
// is what real firmware is tested against:
//   - an entry shorter than its structure is refused, by field and value; a
//     longer one is read (a later revision may append fields);
//   - Online Capable is read only from MADT revision 5 on (before, bit 1 is
//     reserved and whatever is there means nothing); with Enabled also set
//     the processor counts as enabled (firmware that sets both is wrong,
//     and starting the CPU is what Linux does);
//   - APIC ID 0xFF in a type-0 entry and 0xFFFFFFFF in a type-9 entry mean
//     "no processor here" and are skipped, counted;
//   - an ID listed twice (a type-0 and a type-9 entry for one CPU, which
//     some firmware emits) keeps the first entry, the other is counted;
//   - more enabled processors than kCapacity: the rest are counted, not
//     started (Linux's nr_cpu_ids).
// The BSP is the processor the kernel runs on; it is found by its APIC ID
// (read from its own local APIC), put at index 0, and added even when the
// table does not list it enabled (bsp_listed says so).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "support/violation.h"

namespace mm::acpi {

inline constexpr uint8_t kMadtLocalApic = 0;     // 5.2.12.2
inline constexpr uint8_t kMadtLocalX2Apic = 9;   // 5.2.12.12
inline constexpr uint64_t kMadtLocalApicLength = 8;
inline constexpr uint64_t kMadtLocalX2ApicLength = 16;
inline constexpr uint32_t kMadtFlagEnabled = 1u << 0;
inline constexpr uint32_t kMadtFlagOnlineCapable = 1u << 1;
inline constexpr uint8_t kMadtOnlineCapableRevision = 5;  // ACPI 6.3's MADT
inline constexpr uint32_t kNoXApicId = 0xFF;
inline constexpr uint32_t kNoX2ApicId = 0xFFFF'FFFF;

struct MadtCpu {
    uint32_t apic_id = 0;
    uint32_t uid = 0;           // the ACPI processor UID the entry names
    bool x2apic_entry = false;  // listed by a type-9 entry
};

struct MadtCpus {
    static constexpr size_t kCapacity = 64;  // one bit each in a 64-bit CPU mask (shootdown_batch.h)
    MadtCpu cpu[kCapacity];
    size_t count = 0;                // enabled processors, the BSP at index 0
    uint8_t madt_revision = 0;
    uint32_t xapic_entries = 0;      // type-0 entries seen
    uint32_t x2apic_entries = 0;     // type-9 entries seen
    uint32_t online_capable = 0;     // not enabled, may come later: not started
    uint32_t unusable = 0;           // neither flag: never started
    uint32_t invalid_ids = 0;        // 0xFF / 0xFFFFFFFF: skipped
    uint32_t duplicates = 0;         // an ID already listed: skipped
    uint32_t beyond_capacity = 0;    // enabled, but no room: not started
    bool bsp_listed = false;         // the table lists the BSP's ID as enabled
};

// Reads every processor entry of the MADT `madt` (its whole `length` bytes,
// checksum already checked by find_acpi_devices). `bsp_apic_id` is the APIC
// ID of the CPU running this. Refuses a length that does not match the
// header's, a table shorter than its fixed part, an entry that does not fit
// ("madt.entry.length") and a processor entry shorter than its structure
// ("madt.lapic.length", "madt.x2apic.length"), naming the entry's index.
Violation read_madt_cpus(const uint8_t* madt, uint32_t length, uint32_t bsp_apic_id, MadtCpus* out);

}  // namespace mm::acpi

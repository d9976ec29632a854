// Phases map_mmio_devices and map_framebuffer: device registers and the
// framebuffer in the kernel's own address space, each with its memory type.
//
//   device       found in                    mapped at                       type
//   ──────────── ─────────────────────────── ─────────────────────────────── ─────────────
//   LAPIC        IA32_APIC_BASE (MSR 0x1B)    MMIO window, first slot         UC, 4 KiB (xAPIC mode only)
//                or the MADT where they differ
//   IOAPIC       ACPI MADT, entry type 1      MMIO window, next slot          UC, 4 KiB
//   HPET         ACPI HPET table              MMIO window, next slot          UC, 4 KiB
//   framebuffer  the loader (UEFI GOP)        framebuffer window              WC, 2 MiB where aligned
//
// A device absent, not mapped (the LAPIC when disabled or in x2APIC mode) or
// refused (an address in RAM or on another mapping) takes no slot.
//
// Device registers are never in the phys-offset window (it maps RAM only),
// and must be uncached: a cached read of a status register returns a stale
// value, and writes could be merged or reordered. The framebuffer is memory
// the CPU only writes; write-combining lets those writes leave in bursts.
// Every mapping is logged with its flag summary and memory type:
//
//   [INFO  mmio] map lapic pa=0xfee00000 va=0xffffc00000000000 size=4KiB flags=P|RW|NX|PCD|PWT type=UC
#pragma once

#include "mm/acpi_table_window.h"
#include "mm/acpi_tables.h"
#include "mm/cpu_paging_features.h"
#include "mm/page_table_builder.h"

namespace mm {

// What IA32_APIC_BASE says about this CPU's local APIC: its EN (bit 11) and
// EXTD (bit 10) bits (SDM Vol. 3A, 10.4.4 and 10.12.1).
enum class LapicMode : uint8_t {
    kDisabled,  // EN=0, EXTD=0: the APIC is off, nothing answers at its base
    kInvalid,   // EN=0, EXTD=1: a combination the SDM calls invalid
    kXApic,     // EN=1, EXTD=0: the registers are a 4 KiB page at the base
    kX2Apic,    // EN=1, EXTD=1: the registers are MSRs; the page is not decoded
};
LapicMode lapic_mode(uint64_t apic_base_msr);
const char* lapic_mode_name(LapicMode mode);  // "disabled", "invalid", "xapic", "x2apic"

// One device, decided: mapped at `pa`, or not, and why not.
struct MmioDevice {
    bool present = false;                  // the page holding pa is to be mapped
    PhysAddr pa;
    const char* absent = "not-described";  // when not present: not-described, disabled, invalid-mode, x2apic, refused
    Violation refusal = accept();          // when refused: the field the address came from, the address, the rule
    const char* overlaps = nullptr;        // when refused: what it collides with (a range kind, a device, framebuffer)
};

// Where the devices are, physically, and what the kernel makes of them.
struct MmioDeviceAddresses {
    uint64_t apic_base_msr = 0;
    LapicMode lapic_mode = LapicMode::kDisabled;
    PhysAddr madt_lapic;                // the MADT's local APIC address, 0 without a MADT
    PhysAddr madt;                      // the MADT itself (null without one) and its length,
    uint32_t madt_length = 0;           //   for chapter 15's list of processors
    bool lapic_from_madt = false;       // lapic.pa is the MADT's address, which differs from the MSR's base
    MmioDevice lapic;
    MmioDevice ioapic;
    MmioDevice hpet;
};

// The decision, pure: the MSR value and the memory map are inputs.
//   - the LAPIC only in xAPIC mode (disabled, invalid and x2APIC modes map
//     nothing), at the MADT's address where it is given and differs from the
//     MSR's base (ACPI's description wins, as in Linux), else at the MSR's;
//   - the IOAPIC and the HPET where find_acpi_devices() found them;
//   - each address refused, by field and value, when it is not below 2^52,
//     when its page lies in RAM (any range the memory map classes as RAM:
//     the phys-offset window maps it write-back, and an uncached alias of a
//     frame gives it two memory types), or when it overlaps the framebuffer
//     or a device accepted before it. A refused device is absent; the boot
//     goes on without it.
MmioDeviceAddresses mmio_device_addresses(uint64_t apic_base_msr, const acpi::AcpiDevices& acpi,
                                          const MemoryRangeList& ranges, PhysAddr framebuffer,
                                          uint64_t framebuffer_size);

// A device whose page is also a frame the ACPI tables window maps (write-back,
// acpi_table_window.h) is refused, as a device in RAM is: an uncached alias
// would give that frame two memory types. Firmware that puts a table and a
// register block in one reserved page is broken; the boot goes on without
// the device.
inline constexpr const char* kRefusedOnAcpiTable = "must not share a page with an ACPI table";
void refuse_devices_on_acpi_tables(MmioDeviceAddresses* devices, const acpi::AcpiTableFrames& tables);

// Where map_mmio_devices() put them: the register block's own address (the
// slot plus the device's offset in its page). Null for an absent device.
// The phase also keeps what it decided and read on the way, so that later
// checks (chapter 09's verification) use the same answer instead of reading
// the firmware's tables again.
struct MmioDevices {
    LapicMode lapic_mode = LapicMode::kDisabled;  // kX2Apic: no mapping, read the LAPIC through its MSRs
    VirtAddr lapic;
    VirtAddr ioapic;
    VirtAddr hpet;
    MmioDeviceAddresses addresses;        // the decision the slots were mapped from
    acpi::AcpiTableFrames acpi_tables;    // the frames of reserved memory the ACPI tables window maps
};

// Maps each present device into the next 4 KiB slot of the MMIO window,
// RW+NX, UC (kMmioPolicy fitted to `cpu`). Logs the `apic base` line, then
// `map <name>` per device, `<name> refused` (WARN, field, value, rule) for a
// refused address, `<name> absent reason=…` for a device not mapped (the
// LAPIC in x2APIC mode: `lapic not mapped mode=x2apic`), then the phase line;
// when the builder refuses a mapping logs `map rejected` and returns it.
MapResult map_mmio_devices(PageTableBuilder& builder, const MmioDeviceAddresses& devices, CpuPagingFeatures cpu,
                           MmioDevices* out);

// Maps [base, base + size) (size rounded up to whole pages) at the
// framebuffer window, RW+NX, WC (kFramebufferPolicy fitted to `cpu`): 2 MiB
// pages where both addresses align, 4 KiB at the edges. Logs `map
// framebuffer` and the phase line; on a refusal logs `map rejected` and
// returns it. The framebuffer must fit the window.
MapResult map_framebuffer(PageTableBuilder& builder, PhysAddr base, uint64_t size, CpuPagingFeatures cpu);

}  // namespace mm

// Phases map_mmio_devices and map_framebuffer: device registers and the
// framebuffer in the kernel's own address space, each with its memory type.
//
//   device       found in                    mapped at                       type
//   ──────────── ─────────────────────────── ─────────────────────────────── ─────────────
//   LAPIC        IA32_APIC_BASE (MSR 0x1B)    MMIO window, slot 0             UC, 4 KiB
//   IOAPIC       ACPI MADT, entry type 1      MMIO window, next slot          UC, 4 KiB
//   HPET         ACPI HPET table              MMIO window, next slot          UC, 4 KiB
//   framebuffer  the loader (UEFI GOP)        framebuffer window              WC, 2 MiB where aligned
//
// Device registers are never in the phys-offset window (it maps RAM only),
// and must be uncached: a cached read of a status register returns a stale
// value, and writes could be merged or reordered. The framebuffer is memory
// the CPU only writes; write-combining lets those writes leave in bursts.
// Every mapping is logged with its flag summary and memory type:
//
//   [INFO  mmio] map lapic pa=0xfee00000 va=0xffffc00000000000 size=4KiB flags=P|RW|NX|PCD|PWT type=UC
#pragma once

#include "acpi_tables.h"
#include "cpu_paging_features.h"
#include "page_table_builder.h"

namespace mm {

// Where the devices are, physically. The IOAPIC and the HPET may be absent.
struct MmioDeviceAddresses {
    PhysAddr lapic;
    bool has_ioapic = false;
    PhysAddr ioapic;
    bool has_hpet = false;
    PhysAddr hpet;
};

// The LAPIC from IA32_APIC_BASE, the others from what find_acpi_devices() found.
MmioDeviceAddresses mmio_device_addresses(uint64_t apic_base_msr, const acpi::AcpiDevices& acpi);

// Where map_mmio_devices() put them: the register block's own address (the
// slot plus the device's offset in its page). Null for an absent device.
struct MmioDevices {
    VirtAddr lapic;
    VirtAddr ioapic;
    VirtAddr hpet;
};

// Maps each present device into the next 4 KiB slot of the MMIO window,
// RW+NX, UC (kMmioPolicy fitted to `cpu`). Logs `map <name>` per device,
// `<name> absent` for a missing one, then the phase line; on a refusal logs
// `map rejected` and returns it.
MapResult map_mmio_devices(PageTableBuilder& builder, const MmioDeviceAddresses& devices, CpuPagingFeatures cpu,
                           MmioDevices* out);

// Maps [base, base + size) (size rounded up to whole pages) at the
// framebuffer window, RW+NX, WC (kFramebufferPolicy fitted to `cpu`): 2 MiB
// pages where both addresses align, 4 KiB at the edges. Logs `map
// framebuffer` and the phase line; on a refusal logs `map rejected` and
// returns it. The framebuffer must fit the window.
MapResult map_framebuffer(PageTableBuilder& builder, PhysAddr base, uint64_t size, CpuPagingFeatures cpu);

}  // namespace mm

// Chapter 06's phases, for its MemoryManager and every later one: program
// the PAT, map the devices' registers uncached, map the framebuffer
// write-combining. Each is a phase of the one shape (mm/kernel/address_space.h):
// it logs what it did; a refusal is logged and ends the boot (kernel::fail).
#pragma once

#include "mm/kernel/address_space.h"
#include "mm/mmio_map.h"

namespace mm {

// Before any mapping selects PA4: from then on PAT=1 with PCD=PWT=0 means WC.
void program_pat(KernelAddressSpace& space);

// LAPIC (IA32_APIC_BASE), IOAPIC and HPET (ACPI, read through the identity
// map: this runs before activate()) in consecutive 4 KiB slots of the MMIO window.
MmioDevices map_mmio_devices(KernelAddressSpace& space);

// The GOP framebuffer at its window, write-combining.
void map_framebuffer(KernelAddressSpace& space);

}  // namespace mm

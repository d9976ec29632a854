// Chapter 06's phases, for its MemoryManager and every later one: program
// the PAT, map the devices' registers uncached, map the framebuffer
// write-combining. Each logs what it did; a refusal is logged and stops the
// boot (KernelAddressSpace::stop).
#pragma once

#include "boot/handoff.h"
#include "cpu_paging_features.h"
#include "memory_ranges.h"
#include "mmio_map.h"
#include "page_table_builder.h"

namespace mm {

// Before any mapping selects PA4: from then on PAT=1 with PCD=PWT=0 means WC.
void program_pat_phase();

// LAPIC (IA32_APIC_BASE), IOAPIC and HPET (ACPI, read through the identity
// map: this runs before activate()) in consecutive 4 KiB slots of the MMIO window.
MmioDevices map_mmio_devices_phase(PageTableBuilder& builder, const boot::BootHandoff& handoff,
                                   const MemoryRangeList& ranges, CpuPagingFeatures cpu);

// The GOP framebuffer at its window, write-combining.
void map_framebuffer_phase(PageTableBuilder& builder, const boot::BootHandoff& handoff, CpuPagingFeatures cpu);

}  // namespace mm

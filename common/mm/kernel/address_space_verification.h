// Verifying the finished address space (chapter 09, and every chapter that
// keeps verifying after it): what the phases meant to map, the walk that
// holds the live tables against it plus the global audit, and the report of
// the address space as merged ranges.
//
// Chapter 09's MemoryManager lists the expectations in two steps,
// expect_phases() (expect_mapped_regions() below: what chapters 04-08 map)
// and expect_nothing_else() (what must be absent); a later chapter extends
// them with the regions of the phases it adds.
#pragma once

#include "mm/address_space_audit.h"
#include "mm/cpu_paging_features.h"
#include "mm/kernel/handoff_view.h"
#include "mm/memory_ranges.h"
#include "mm/mmio_map.h"
#include "mm/physical_memory.h"
#include "support/assert.h"

namespace mm {

struct ExpectedRegions {
    static constexpr size_t kCapacity = 64;
    RegionExpectation regions[kCapacity];
    size_t count = 0;

    void add(const RegionExpectation& region) {
        KASSERT(count < kCapacity);
        regions[count++] = region;
    }
};

// The kernel image (sections with their rights, guards absent), the phys
// window over every RAM run, the devices, the ACPI tables window's frames and
// the framebuffer. `mapped` is what map_mmio_devices decided and mapped: the
// device addresses it took from IA32_APIC_BASE and ACPI (the tables are read
// once, by that phase), each device's slot, and the frames of reserved memory
// it mapped for ACPI tables.
void expect_mapped_regions(ExpectedRegions& out, const HandoffView& handoff, const MemoryRangeList& ranges,
                           CpuPagingFeatures cpu, const MmioDevices& mapped);

// Checks every expected region and audits every entry, logging one line per
// region, one for the audit and one per finding. True when nothing broke a rule.
// `depth`: the tables' (chapter 16 walks a PML5 when the CPU runs five levels).
bool verify_address_space(PhysAddr pml4, PhysicalMemoryAccess& tables, const ExpectedRegions& expected,
                          CpuPagingFeatures cpu, PagingDepth depth = PagingDepth::kFourLevel);

// The address space as merged ranges, one `[INFO  layout] range` line each.
void report_address_space(PhysAddr pml4, PhysicalMemoryAccess& tables, const HandoffView& handoff,
                          PagingDepth depth = PagingDepth::kFourLevel);

}  // namespace mm

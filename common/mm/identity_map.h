// Phase identity_map_low_memory: every byte of RAM at its own address.
//
// While the kernel reaches page tables, the handoff and the memory map by
// their physical addresses (IdentityMappedMemory), its own tables must keep
// physical memory identity-mapped, or the first table access after the CR3
// switch faults. The map covers RAM only (usable, loader-owned and firmware
// ranges), never device ranges, and never page 0, so a null pointer faults.
// Chapter 08 removes it once everything moved to the phys-offset window.
//
// The identity map is an alias of every RAM frame, so it keeps the frame
// exceptions (ram_run_mapper.h): the kernel image's text and rodata are
// read-only here. The framebuffer is never in a RAM run (the range list sets
// it aside, boot_memory.h), so it is not mapped here at all.
#pragma once

#include "mm/cpu_paging_features.h"
#include "mm/memory_ranges.h"
#include "mm/page_table_builder.h"
#include "mm/ram_run_mapper.h"

namespace mm {

// The lowest address the identity map covers: page 0 stays unmapped.
inline constexpr PhysAddr kIdentityMapFloor = PhysAddr(kPageSize);

// Maps each run of touching RAM ranges (merged, so a kind boundary inside RAM
// does not force small pages) identity, RW+NX, with the largest page that
// fits (identity_low_memory_policy, fitted to `cpu`), keeping `exceptions`
// (map_ram_runs). Logs one line per run, one per exception it meets and one
// for the phase. On a refusal logs `map rejected` and returns it; the tables
// may then hold the runs mapped before it.
MapResult identity_map_low_memory(PageTableBuilder& builder, const MemoryRangeList& ranges,
                                  const FrameExceptions& exceptions, CpuPagingFeatures cpu);

}  // namespace mm

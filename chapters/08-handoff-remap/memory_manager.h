// MemoryManager: the kernel's address space, built in the order the
// constructor reads.
//
// Each phase is one private function that calls one phase of common/mm and
// contains nothing of another's logic; each logs what it mapped. A refused
// mapping has already been logged by the phase, and stops the boot with the
// failure code: a kernel with half an address space must not go on.
//
// Chapter 08 adds two phases that run after activate(): the handoff and the
// memory map move to the phys-offset window, then the identity map goes.
#pragma once

#include "boot/handoff.h"
#include "boot_frame_allocator.h"
#include "boot_memory.h"
#include "cpu_paging_features.h"
#include "page_table_builder.h"
#include "handoff_remap.h"
#include "phys_window.h"

class MemoryManager {
public:
    MemoryManager(const boot::BootHandoff& handoff, mm::BootMemory& memory, mm::BootFrameAllocator& frames);
    MemoryManager(const MemoryManager&) = delete;
    MemoryManager& operator=(const MemoryManager&) = delete;

    // Loads the new PML4 into CR3. From then on page tables are reached, and
    // new ones zeroed, through the phys-offset window.
    void activate();

    // The handoff and the memory-map buffer, re-addressed through the window
    // and checked there; returns the handoff at its new address, which is the
    // only one to use from now on.
    const boot::BootHandoff& remap_handoff();

    // Removes the identity map: every lower-half mapping, page 0 included.
    // Only after remap_handoff(), when nothing uses a low address any more.
    void remove_identity_map();

    mm::PhysAddr pml4() const { return builder_.pml4(); }
    mm::CpuPagingFeatures cpu() const { return cpu_; }
    const mm::MapStats& stats() const { return builder_.stats(); }

private:
    void identity_map_low_memory();
    void map_kernel_image();
    void map_phys_offset_regions();

    // What must hold for the switch not to fault: checked with a software
    // walk of the new tables before CR3 is loaded.
    void check_before_switch() const;

    const boot::BootHandoff* handoff_;  // the identity address, then the window's
    mm::BootMemory& memory_;
    mm::BootFrameAllocator& frames_;
    mm::CpuPagingFeatures cpu_;
    mutable mm::BootTableAccess tables_;
    mm::PageTableBuilder builder_;
};

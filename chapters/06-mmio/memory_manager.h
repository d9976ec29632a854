// MemoryManager: the kernel's address space, built in the order the
// constructor reads.
//
// Each phase is one private function that calls one phase of common/mm and
// contains nothing of another's logic; each logs what it mapped. A refused
// mapping has already been logged by the phase, and stops the boot with the
// failure code: a kernel with half an address space must not go on.
//
// Later chapters extend this class with their own phases; the book shows the
// diff from chapter to chapter.
#pragma once

#include "boot/handoff.h"
#include "boot_frame_allocator.h"
#include "boot_memory.h"
#include "cpu_paging_features.h"
#include "mmio_map.h"
#include "page_table_builder.h"
#include "phys_window.h"

class MemoryManager {
public:
    MemoryManager(const boot::BootHandoff& handoff, const mm::BootMemory& memory, mm::BootFrameAllocator& frames);
    MemoryManager(const MemoryManager&) = delete;
    MemoryManager& operator=(const MemoryManager&) = delete;

    // Loads the new PML4 into CR3. From then on page tables are reached, and
    // new ones zeroed, through the phys-offset window.
    void activate();

    mm::PhysAddr pml4() const { return builder_.pml4(); }
    mm::CpuPagingFeatures cpu() const { return cpu_; }
    const mm::MapStats& stats() const { return builder_.stats(); }
    // Where map_mmio_devices() put the device registers (null when absent).
    const mm::MmioDevices& devices() const { return devices_; }

private:
    void identity_map_low_memory();
    void map_kernel_image();
    void map_phys_offset_regions();
    void program_pat();
    void map_mmio_devices();
    void map_framebuffer();

    // What must hold for the switch not to fault: checked with a software
    // walk of the new tables before CR3 is loaded.
    void check_before_switch() const;

    const boot::BootHandoff& handoff_;
    const mm::BootMemory& memory_;
    mm::BootFrameAllocator& frames_;
    mm::CpuPagingFeatures cpu_;
    mutable mm::BootTableAccess tables_;
    mm::PageTableBuilder builder_;
    mm::MmioDevices devices_;
};

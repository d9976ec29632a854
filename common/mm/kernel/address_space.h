// KernelAddressSpace: what every chapter's MemoryManager is built on, from
// chapter 05 on.
//
// It owns the new PML4 and the builder that fills it, reaches page tables
// through the identity map until activate() and through the phys-offset
// window after, and offers each mapping phase as one call that stops the boot
// when the phase refuses (the phase has logged why). A chapter's
// MemoryManager derives from it, and its constructor lists the phases in the
// order they run — that list, and any phase of its own, is what changes from
// chapter to chapter.
#pragma once

#include "boot/handoff.h"
#include "boot_frame_allocator.h"
#include "boot_memory.h"
#include "cpu_paging_features.h"
#include "page_table_builder.h"
#include "phys_window.h"

namespace mm {

class KernelAddressSpace {
public:
    KernelAddressSpace(const KernelAddressSpace&) = delete;
    KernelAddressSpace& operator=(const KernelAddressSpace&) = delete;

    // Loads the new PML4 into CR3, after a software walk has proved that the
    // code, the stack, the handoff and the window's view of the PML4 are
    // mapped in it. From then on tables are reached, and new ones zeroed,
    // through the phys-offset window.
    void activate();

    PhysAddr pml4() const { return builder_.pml4(); }
    CpuPagingFeatures cpu() const { return cpu_; }
    const MapStats& stats() const { return builder_.stats(); }


protected:
    KernelAddressSpace(const boot::BootHandoff& handoff, BootMemory& memory, BootFrameAllocator& frames);
    ~KernelAddressSpace() = default;

    // The phases of chapters 04 and 05, each one call into common/mm.
    void identity_map_low_memory();
    void map_kernel_image();
    void map_phys_offset_regions();

    const boot::BootHandoff& handoff() const { return *handoff_; }
    void set_handoff(const boot::BootHandoff& handoff) { handoff_ = &handoff; }
    BootMemory& memory() { return memory_; }
    BootFrameAllocator& frames() { return frames_; }
    PageTableBuilder& builder() { return builder_; }
    BootTableAccess& tables() { return tables_; }

private:
    void check_before_switch();

    const boot::BootHandoff* handoff_;
    BootMemory& memory_;
    BootFrameAllocator& frames_;
    CpuPagingFeatures cpu_;
    BootTableAccess tables_;
    PageTableBuilder builder_;
};

}  // namespace mm

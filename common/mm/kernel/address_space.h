// KernelAddressSpace: what every chapter's MemoryManager is built on, from
// chapter 05 on.
//
// It owns the new PML4 and the builder that fills it, and reaches page tables
// through the identity map until activate() and through the phys-offset
// window after. Chapter 05's MemoryManager derives from it and lists its
// phases in its constructor, in the order they run; a later chapter's
// MemoryManager derives from its base chapter's and lists only the phases it
// adds (they run after the base's), with the state they fill. The phases
// kernel_main runs after activate() are the rest of what changes.
//
// Every phase has one shape: a free function in common/mm/kernel/ that takes
// the address space first (then any state it fills) and returns its result,
// if any; it logs what it did and, when it refuses, logs why and ends the
// boot through kernel::fail(). The ones of chapters 04 and 05 are
// below; later chapters add theirs in their own modules.
#pragma once

#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "mm/cpu_paging_features.h"
#include "mm/kernel/handoff_view.h"
#include "mm/page_table_builder.h"
#include "mm/phys_window.h"

namespace mm {

class KernelAddressSpace {
public:
    KernelAddressSpace(const KernelAddressSpace&) = delete;
    KernelAddressSpace& operator=(const KernelAddressSpace&) = delete;

    // Loads the new root table (PML4, or PML5 at five levels) into CR3, after
    // a software walk has proved that the code, the stack, the handoff and
    // the window's view of the root are mapped in it. From then on tables
    // are reached, and new ones zeroed, through the phys-offset window.
    void activate();

    // The table CR3 names (the PML4, or at five levels the PML5) and how deep
    // the tables are: the depth the CPU runs at (CR4.LA57), which only
    // chapter 16 lets be 5.
    PhysAddr root() const { return builder_.root(); }
    PagingDepth depth() const { return builder_.depth(); }
    CpuPagingFeatures cpu() const { return cpu_; }
    const MapStats& stats() const { return builder_.stats(); }


    // What the phases work on. The handoff is the intake's typed view
    // (boot_intake.h); the raw handoff is the runtime's (kernel/kernel.h).
    const HandoffView& handoff() const { return handoff_; }
    BootMemory& memory() { return memory_; }
    BootFrameAllocator& frames() { return frames_; }
    PageTableBuilder& builder() { return builder_; }
    BootTableAccess& tables() { return tables_; }

protected:
    KernelAddressSpace(const HandoffView& handoff, BootMemory& memory, BootFrameAllocator& frames);
    ~KernelAddressSpace() = default;

private:
    void check_before_switch();

    const HandoffView& handoff_;
    BootMemory& memory_;
    BootFrameAllocator& frames_;
    CpuPagingFeatures cpu_;
    BootTableAccess tables_;
    PageTableBuilder builder_;
};

// Chapter 16: lets the next KernelAddressSpace build five levels when the
// loader handed the kernel over at five (CR4.LA57, `paging=5`). Without it a
// kernel that finds CR4.LA57 set stops by name before it builds anything:
// its tables would be 4-level and CR3 would read them as a PML5.
void accept_five_level_paging();
// The depth CR4.LA57 says the CPU translates with now.
PagingDepth running_paging_depth();

// The phases of chapters 04 and 05: every RAM run identity-mapped, the kernel
// image at -2 GiB (its placement checked first), every RAM run in the
// phys-offset window; both RAM mappings keep the frame exceptions
// (kernel/ram_frame_exceptions.h: the image's text and rodata read-only); the
// framebuffer is not RAM to them (the range list sets it aside, boot_memory.h).
void identity_map_low_memory(KernelAddressSpace& space);
void map_kernel_image(KernelAddressSpace& space);
void map_phys_offset_regions(KernelAddressSpace& space);

}  // namespace mm

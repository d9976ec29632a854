// MemoryManager: chapter 10's address space, built in the order the
// constructor reads. This chapter's two phases run from kernel_main once the
// kernel has left the lower half (common/mm/kernel/frame_handover.h,
// kernel_heap.h): the frames handed over from the boot allocator to a bitmap
// that can take them back, and the kernel heap at its window, grown through
// PageTableBuilder with frames from the bitmap. Chapter 09's verification
// then holds the whole address space, heap and kernel stacks included,
// against what every phase meant to map.
#pragma once

#include "mm/cpu_tlb.h"
#include "mm/kernel/address_space.h"
#include "mm/kernel/address_space_verification.h"
#include "mm/kernel/kernel_stacks_phase.h"
#include "mm/kernel/mmio_phases.h"
#include "mm/kernel/temporary_window_phase.h"
#include "mm/temporary_window.h"

class MemoryManager : public mm::KernelAddressSpace {
public:
    MemoryManager(const boot::BootHandoff& handoff, mm::BootMemory& memory, mm::BootFrameAllocator& frames)
        : KernelAddressSpace(handoff, memory, frames) {
        mm::identity_map_low_memory(*this);
        mm::map_kernel_image(*this);
        mm::map_phys_offset_regions(*this);
        mm::program_pat(*this);
        devices_ = mm::map_mmio_devices(*this);
        mm::map_framebuffer(*this);
        mm::create_temporary_window(*this, tlb_, window_);
        mm::map_kernel_stacks(*this);
    }

    // Checks each expected region and the rules for every entry (see
    // address_space_audit.h), logging one line per region, one for the audit
    // and one per finding. True when nothing broke a rule.
    bool verify();

    // The address space as merged ranges, one `[INFO  layout] range` line each.
    void report();

    const mm::MmioDevices& devices() const { return devices_; }
    mm::TemporaryWindow& temporary_window() { return window_; }

private:
    // Everything the phases meant to map, and the pages they meant to leave
    // unmapped: the expectations verify() holds the tables against.
    void expected_regions(mm::ExpectedRegions& out);

    mm::MmioDevices devices_;
    mm::CpuTlb tlb_;
    mm::TemporaryWindow window_;
};

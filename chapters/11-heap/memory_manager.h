// MemoryManager: chapter 10's address space, built in the order the
// constructor reads, and what this chapter adds once the kernel has left the
// lower half: the frames handed over from the boot allocator to a bitmap that
// can take them back, and the kernel heap at its window, grown through
// PageTableBuilder with frames from the bitmap. Chapter 09's verification
// then holds the whole address space, heap and kernel stacks included,
// against what every phase meant to map.
#pragma once

#include "kernel/address_space_verification.h"
#include "bitmap_frame_allocator.h"
#include "cpu_tlb.h"
#include "kernel/address_space.h"
#include "panic.h"
#include "kernel/frame_handover.h"
#include "kernel/kernel_heap.h"
#include "kernel/leave_lower_half.h"
#include "kernel/mmio_phases.h"
#include "kernel_stacks.h"
#include "temporary_window.h"

class MemoryManager : public mm::KernelAddressSpace {
public:
    MemoryManager(const boot::BootHandoff& handoff, mm::BootMemory& memory, mm::BootFrameAllocator& frames)
        : KernelAddressSpace(handoff, memory, frames) {
        identity_map_low_memory();
        map_kernel_image();
        map_phys_offset_regions();
        program_pat();
        map_mmio_devices();
        map_framebuffer();
        create_temporary_window();
        map_kernel_stacks();
    }

    // The handoff and the memory-map buffer, re-addressed through the window
    // and checked there; returns the handoff at its new address, which is the
    // only one to use from now on (common/mm/kernel/leave_lower_half.h).
    const boot::BootHandoff& remap_handoff() {
        set_handoff(mm::remap_handoff_phase(handoff(), memory(), tables()));
        return handoff();
    }

    // Removes the identity map: every lower-half mapping, page 0 included.
    // Only after remap_handoff(), when nothing uses a low address any more.
    void remove_identity_map() { mm::remove_identity_map_phase(pml4(), tables(), frames()); }

    // book:begin steady-state
    // The boot allocator's record becomes `steady`'s bitmap, and the boot
    // allocator is emptied: every frame from here on comes from `steady`.
    void hand_over_frames(mm::BitmapFrameAllocator& steady) {
        mm::hand_over_frames_phase(memory(), frames(), steady);
        steady_ = &steady;
    }

    // The heap's first pages, mapped by a builder whose FrameSource is the
    // bitmap; operator new works from here on.
    void create_heap() { mm::create_heap_phase(pml4(), tables(), *steady_, cpu()); }
    // book:end steady-state

    // Checks each expected region and the rules for every entry (see
    // address_space_audit.h), logging one line per region, one for the audit
    // and one per finding. True when nothing broke a rule.
    bool verify();

    // The address space as merged ranges, one `[INFO  layout] range` line each.
    void report();

    const mm::MmioDevices& devices() const { return devices_; }
    mm::TemporaryWindow& temporary_window() { return window_; }

private:
    void program_pat() { mm::program_pat_phase(); }
    void map_mmio_devices() { devices_ = mm::map_mmio_devices_phase(builder(), handoff(), memory().ranges, cpu()); }
    void map_framebuffer() { mm::map_framebuffer_phase(builder(), handoff(), cpu()); }
    // Everything the phases meant to map, and the pages they meant to leave
    // unmapped: the expectations verify() holds the tables against.
    void expected_regions(mm::ExpectedRegions& out);

    void create_temporary_window() {
        if (!mm::create_temporary_window(builder(), tables(), tlb_, cpu(), window_).ok()) kernel::fail();
    }
    void map_kernel_stacks() {
        if (!mm::map_kernel_stacks(builder(), frames(), cpu()).ok()) kernel::fail();
    }

    mm::MmioDevices devices_;
    mm::CpuTlb tlb_;
    mm::TemporaryWindow window_;
    mm::BitmapFrameAllocator* steady_ = nullptr;
};

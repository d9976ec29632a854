// MemoryManager: chapter 06's address space, built in the order the
// constructor reads, plus this chapter's phase: the temporary window, one
// fixed page through which any frame can be seen, whose page table exists
// from the start so that mapping through it never allocates.
#pragma once

#include "cpu_tlb.h"
#include "kernel/address_space.h"
#include "panic.h"
#include "kernel/mmio_phases.h"
#include "temporary_window.h"

// book:begin memory-manager
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
    }

    const mm::MmioDevices& devices() const { return devices_; }
    mm::TemporaryWindow& temporary_window() { return window_; }
    const mm::CpuTlb& tlb() const { return tlb_; }

private:
    void program_pat() { mm::program_pat_phase(); }
    void map_mmio_devices() { devices_ = mm::map_mmio_devices_phase(builder(), handoff(), memory().ranges, cpu()); }
    void map_framebuffer() { mm::map_framebuffer_phase(builder(), handoff(), cpu()); }
    // The slot's page table is made here, before the switch; from then on
    // the window only rewrites one entry of it, with an invlpg each time.
    void create_temporary_window() {
        if (!mm::create_temporary_window(builder(), tables(), tlb_, cpu(), window_).ok()) kernel::fail();
    }

    mm::MmioDevices devices_;
    mm::CpuTlb tlb_;
    mm::TemporaryWindow window_;
};
// book:end memory-manager

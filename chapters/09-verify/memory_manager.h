// MemoryManager: chapter 08's address space, built in the order the
// constructor reads, and what this chapter adds: once it is complete, a walk
// over the live tables verifies it against what every phase meant to map,
// and prints it as merged ranges.
#pragma once

#include "mm/cpu_tlb.h"
#include "mm/kernel/address_space.h"
#include "mm/kernel/address_space_verification.h"
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

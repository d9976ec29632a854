// What the loader's bootstrap tables map, and with which rights, built with
// the kernel's own typed pieces (mm::PageTableBuilder, mm::leaf_flags).
//
//   virtual                      physical             rights
//   0 .. 4 KiB                   -                    not mapped: a null dereference faults
//   4 KiB .. identity_top        same                 RW+NX, 2 MiB pages where aligned
//     except the trampoline page same                 RX (read-only), 4 KiB page
//     except the kernel image    same                 R+NX, 4 KiB pages (its text is RX above)
//   kernel PT_LOAD segments      the loaded image     from the ELF: RX / R+NX / RW+NX, 4 KiB pages
//
// Why the handover trampoline's page, and only it, is executable: the
// instruction after the switch to these tables is fetched there, through this
// identity map (handover_trampoline.h); from the jump on, code runs in the
// kernel's text only. The loader's own text and the firmware's code are NX:
// nothing runs there after the switch. The kernel image's frames are
// read-only here, so no frame is writable through one mapping and executable
// through another. The trampoline page is EfiLoaderCode, which the kernel
// never counts free (mm/memory_ranges.cpp), so no kernel ever writes to the
// one executable frame of this map.
//
// Pure code over mm::PhysicalMemoryAccess and mm::FrameSource: the host tests
// build the same tables in fake memory.
#pragma once

#include <stdint.h>

#include "boot/elf_image.h"
#include "mm/page_table_builder.h"

namespace boot {

struct BootstrapPlan {
    uint64_t identity_top;        // from identity_top(): a 1 GiB multiple
    uint64_t trampoline_page;     // executable in the identity map
    uint64_t kernel_physical_base;
    const elf::KernelImageLayout* kernel;
    bool cpu_has_nx;              // without it NX is a reserved bit: left out everywhere
};

// A refusal, by the region whose mapping failed and the builder's reason.
struct [[nodiscard]] BootstrapResult {
    mm::MapStatus status = mm::MapStatus::kOk;
    const char* region = nullptr;  // "identity", "handover-trampoline", "kernel-image-frames", "kernel-segment"
    uint64_t va = 0;               // where the builder refused
    mm::MapStats mapped;           // everything mapped, for the log

    bool ok() const { return status == mm::MapStatus::kOk; }
};

// Enough table pages for any plan's tables (counted per region, shared tables
// counted once per region that uses them): the loader takes this many in one
// allocation and gives the unused tail back before the final memory map.
uint64_t bootstrap_table_pages_bound(const BootstrapPlan& plan);

// Maps the plan into the builder's (empty) PML4. Stops at the first refusal.
BootstrapResult map_bootstrap(mm::PageTableBuilder& builder, const BootstrapPlan& plan);

}  // namespace boot

#include "mm/kernel/address_space.h"

#include "arch/x86/cpu.h"
#include "mm/identity_map.h"
#include "mm/kernel_image_map.h"
#include "mm/kernel/linked_image.h"
#include "mm/kernel/ram_frame_exceptions.h"
#include "mm/page_table_lookup.h"
#include "kernel/kernel.h"
#include "kernel/panic.h"
#include "support/log.h"

namespace mm {
namespace {

bool g_five_levels_accepted = false;

// The depth the new tables are built at: the CPU's, if this chapter takes it.
PagingDepth depth_to_build() {
    const PagingDepth running = running_paging_depth();
    if (running == PagingDepth::kFiveLevel && !g_five_levels_accepted) {
        klog::error("paging").msg("paging depth rejected").kv("field", "CR4.LA57").kv("value", uint64_t(1))
            .kv("rule", "this chapter builds 4-level tables: paging=5 is chapter 16's");
        kernel::fail();
    }
    return running;
}

// The PML4 (or PML5) must exist before the builder that fills it.
PhysAddr new_pml4(PhysicalMemoryAccess& tables, BootFrameAllocator& frames) {
    const FrameResult pml4 = PageTableBuilder::create_pml4(tables, frames);
    if (!pml4.ok()) {
        klog::error("paging").msg("no frame for the pml4");
        kernel::fail();
    }
    return pml4.frame();
}

}  // namespace

KernelAddressSpace::KernelAddressSpace(const HandoffView& handoff, BootMemory& memory,
                                       BootFrameAllocator& frames)
    : handoff_(handoff),
      memory_(memory),
      frames_(frames),
      cpu_(read_cpu_paging_features()),
      builder_(new_pml4(tables_, frames), tables_, frames, cpu_.pages_1gib, depth_to_build()) {}

void accept_five_level_paging() { g_five_levels_accepted = true; }

PagingDepth running_paging_depth() {
    return (x86::read_cr4() & x86::kCr4La57) ? PagingDepth::kFiveLevel : PagingDepth::kFourLevel;
}

void identity_map_low_memory(KernelAddressSpace& space) {
    const FrameExceptions exceptions = kernel::ram_frame_exceptions(space.handoff());
    if (!identity_map_low_memory(space.builder(), space.memory().ranges, exceptions, space.cpu()).ok()) kernel::fail();
}

void map_kernel_image(KernelAddressSpace& space) {
    const KernelImageLayout layout = kernel::linked_image_layout();
    const KernelPlacement placement = kernel::checked_kernel_placement(space.handoff().kernel);
    if (!map_kernel_image(space.builder(), layout, placement, space.cpu()).ok()) kernel::fail();
}

void map_phys_offset_regions(KernelAddressSpace& space) {
    const FrameExceptions exceptions = kernel::ram_frame_exceptions(space.handoff());
    if (!map_phys_offset_regions(space.builder(), space.memory().ranges, exceptions, space.cpu()).ok()) kernel::fail();
}

void KernelAddressSpace::check_before_switch() {
    struct Probe {
        const char* what;
        VirtAddr va;
    };
    uint64_t rsp;
    asm volatile("mov %%rsp, %0" : "=r"(rsp));
    const Probe probes[] = {
        {"code", VirtAddr(reinterpret_cast<uint64_t>(&kernel::fail))},
        {"stack", VirtAddr(rsp)},
        {"handoff", VirtAddr(reinterpret_cast<uint64_t>(&kernel::boot_handoff()))},  // the command line's
        {"root-through-window", phys_to_virt(root())},
    };
    for (const Probe& p : probes) {
        if (translate(root(), tables_, p.va, depth()).present) continue;
        klog::error("paging").msg("not mapped in the new tables").kv("what", p.what).kv("va", klog::hex(p.va));
        kernel::fail();
    }
}

// book:begin activate
void KernelAddressSpace::activate() {
    check_before_switch();
    x86::write_cr3(root().value());
    const bool had_global_pages = x86::drop_global_translations();  // the firmware's, if it had any
    tables_.use_window();
    auto line = klog::info("paging");
    line.msg("switched").kv("cr3", klog::hex(x86::read_cr3())).kv("tables-through", "phys-window")
        .kv("global-pages", had_global_pages ? "flushed" : "off");
    if (depth() == PagingDepth::kFiveLevel) line.kv("levels", uint64_t(5));  // chapter 16; 4 goes unsaid, as before
}
// book:end activate

}  // namespace mm

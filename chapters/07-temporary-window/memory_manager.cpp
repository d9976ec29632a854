#include "memory_manager.h"

#include "arch/x86/cpu.h"
#include "identity_map.h"
#include "kernel_image_map.h"
#include "linked_image.h"
#include "mapping_log.h"
#include "page_table_lookup.h"
#include "panic.h"
#include "support/log.h"

namespace {

[[noreturn]] void stop() { kernel::exit_kernel(boot::ExitCode::kFailure); }

// The PML4 must exist before the builder that fills it.
mm::PhysAddr new_pml4(mm::PhysicalMemoryAccess& tables, mm::BootFrameAllocator& frames) {
    const mm::FrameResult pml4 = mm::PageTableBuilder::create_pml4(tables, frames);
    if (!pml4.ok()) {
        klog::error("paging").msg("no frame for the pml4");
        stop();
    }
    return pml4.frame();
}

}  // namespace

// book:begin memory-manager
MemoryManager::MemoryManager(const boot::BootHandoff& handoff, const mm::BootMemory& memory,
                             mm::BootFrameAllocator& frames)
    : handoff_(handoff),
      memory_(memory),
      frames_(frames),
      cpu_(mm::read_cpu_paging_features()),
      builder_(new_pml4(tables_, frames), tables_, frames) {
    identity_map_low_memory();
    map_kernel_image();
    map_phys_offset_regions();
    create_temporary_window();
}
// book:end memory-manager

void MemoryManager::identity_map_low_memory() {
    if (!mm::identity_map_low_memory(builder_, memory_.ranges, cpu_).ok()) stop();
}

void MemoryManager::map_kernel_image() {
    const mm::KernelImageLayout layout = kernel::linked_image_layout();
    const mm::KernelPlacement placement = kernel::kernel_placement(handoff_);
    if (Violation v = mm::check_kernel_placement(layout, placement); !v.ok()) {
        klog::error("paging").msg("kernel placement rejected").kv("field", v.field).kv("value", klog::hex(v.value))
            .kv("rule", v.rule);
        stop();
    }
    if (!mm::map_kernel_image(builder_, layout, placement, cpu_).ok()) stop();
}

void MemoryManager::map_phys_offset_regions() {
    if (!mm::map_phys_offset_regions(builder_, memory_.ranges, cpu_).ok()) stop();
}

void MemoryManager::create_temporary_window() {
    if (!mm::create_temporary_window(builder_, tables_, tlb_, cpu_, window_).ok()) stop();
}

void MemoryManager::check_before_switch() const {
    struct Probe {
        const char* what;
        mm::VirtAddr va;
    };
    uint64_t rsp;
    asm volatile("mov %%rsp, %0" : "=r"(rsp));
    const Probe probes[] = {
        {"code", mm::VirtAddr(reinterpret_cast<uint64_t>(&stop))},
        {"stack", mm::VirtAddr(rsp)},
        {"handoff", mm::VirtAddr(reinterpret_cast<uint64_t>(&handoff_))},
        {"pml4-through-window", mm::phys_to_virt(pml4())},
    };
    for (const Probe& p : probes) {
        if (mm::translate(pml4(), tables_, p.va).present) continue;
        klog::error("paging").msg("not mapped in the new tables").kv("what", p.what).kv("va", klog::hex(p.va.value()));
        stop();
    }
}

void MemoryManager::activate() {
    check_before_switch();
    x86::write_cr3(pml4().value());
    tables_.use_window();
    klog::info("paging").msg("switched").kv("cr3", klog::hex(x86::read_cr3())).kv("tables-through", "phys-window");
}

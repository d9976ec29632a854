#include "memory_manager.h"

#include "arch/x86/cpu.h"
#include "identity_map.h"
#include "kernel.h"
#include "kernel_image_map.h"
#include "linked_image.h"
#include "lower_half.h"
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

MemoryManager::MemoryManager(const boot::BootHandoff& handoff, mm::BootMemory& memory,
                             mm::BootFrameAllocator& frames)
    : handoff_(&handoff),
      memory_(memory),
      frames_(frames),
      cpu_(mm::read_cpu_paging_features()),
      builder_(new_pml4(tables_, frames), tables_, frames) {
    identity_map_low_memory();
    map_kernel_image();
    map_phys_offset_regions();
}

void MemoryManager::identity_map_low_memory() {
    if (!mm::identity_map_low_memory(builder_, memory_.ranges, cpu_).ok()) stop();
}

void MemoryManager::map_kernel_image() {
    const mm::KernelImageLayout layout = kernel::linked_image_layout();
    const mm::KernelPlacement placement = kernel::kernel_placement(*handoff_);
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
        {"handoff", mm::VirtAddr(reinterpret_cast<uint64_t>(handoff_))},
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

// ---- leaving the lower half -------------------------------------------------

namespace {

// test.corrupt-remap=…: damage what the remap of the memory map is asked to
// accept, to prove each check refuses it (tests/test_08_handoff_remap.py).
void corrupt_if_requested(mm::RemapRequest& request, const boot::BootHandoff& handoff) {
    const Str how = kernel::command_line().value("test.corrupt-remap");
    if (how.empty()) return;
    klog::warn("remap").msg("damaging the memory-map remap on request").kv("corruption", how);
    if (how == Str("offset")) request.remapped = mm::phys_to_pointer<const uint8_t>(request.pa + kPageSize);
    else if (how == Str("size")) request.size = 2 * MiB;
    else if (how == Str("region")) request.pa = mm::PhysAddr(handoff.kernel_physical_base);
    else kernel::panic("unknown test.corrupt-remap value");
}

// One buffer: checked at its window address against its identity address.
void remap(const mm::RemapRequest& request, const mm::MemoryRangeList& ranges) {
    if (Violation v = mm::check_remapped_buffer(request, ranges); !v.ok()) {
        klog::error("remap").msg(request.name).msg("rejected").kv("field", v.field).kv("value", klog::hex(v.value))
            .kv("rule", v.rule);
        stop();
    }
    klog::info("remap").msg(request.name).kv("pa", klog::hex(request.pa.value()))
        .kv("old-va", klog::hex(reinterpret_cast<uint64_t>(request.validated)))
        .kv("new-va", klog::hex(reinterpret_cast<uint64_t>(request.remapped))).kv("size", klog::size(request.size))
        .kv("kind", mm::range_kind_name(request.expected_kind)).kv("identical", true);
}

}  // namespace

// book:begin remap-handoff
const boot::BootHandoff& MemoryManager::remap_handoff() {
    KASSERT(tables_.window_live());
    const boot::BootHandoff& old = *handoff_;
    const mm::PhysAddr handoff_pa(reinterpret_cast<uint64_t>(handoff_));  // identity: va == pa
    const mm::PhysAddr map_pa(old.memory_map);

    const mm::RemapRequest handoff{"handoff", handoff_pa, sizeof(boot::BootHandoff), mm::RangeKind::kBootHandoff,
                                   reinterpret_cast<const uint8_t*>(handoff_),
                                   mm::phys_to_pointer<const uint8_t>(handoff_pa)};
    mm::RemapRequest map{"memory-map", map_pa, old.memory_map_size, mm::RangeKind::kBootHandoff,
                         reinterpret_cast<const uint8_t*>(old.memory_map), mm::phys_to_pointer<const uint8_t>(map_pa)};
    corrupt_if_requested(map, old);
    remap(handoff, memory_.ranges);
    remap(map, memory_.ranges);

    // Both passed: switch every pointer to the window.
    handoff_ = mm::phys_to_pointer<const boot::BootHandoff>(handoff_pa);
    kernel::relocate_handoff(handoff_);
    memory_.descriptors = mm::MemoryDescriptorView(map.remapped, handoff_->memory_map_size, handoff_->descriptor_size);
    return *handoff_;
}
// book:end remap-handoff

// book:begin remove-identity-map
void MemoryManager::remove_identity_map() {
    const mm::ReleasedTables released = mm::remove_lower_half(pml4(), tables_);
    // Many entries changed at once: reloading CR3 drops every non-global
    // translation (SDM Vol. 3A, 4.10.4.1), and none of ours is global.
    x86::write_cr3(x86::read_cr3());
    uint64_t returned = 0;
    for (mm::PhysAddr frame : released) returned += frames_.return_page_table_frame(frame);

    if (!mm::lower_half_is_empty(pml4(), tables_) || mm::translate(pml4(), tables_, mm::VirtAddr(0)).present) {
        klog::error("paging").msg("lower half still mapped after removal");
        stop();
    }
    klog::info("paging").msg("identity map removed").kv("pml4-entries", uint64_t(released.pml4_entries))
        .kv("tables-released", uint64_t(released.count)).kv("returned-to-reserve", returned)
        .kv("flush", "cr3-reload");
}
// book:end remove-identity-map

#include "memory_manager.h"

#include "arch/x86/cpu.h"
#include "handoff_remap.h"
#include "kernel.h"
#include "lower_half.h"
#include "page_table_lookup.h"
#include "panic.h"
#include "support/log.h"

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
        mm::KernelAddressSpace::stop();
    }
    klog::info("remap").msg(request.name).kv("pa", klog::hex(request.pa.value()))
        .kv("old-va", klog::hex(reinterpret_cast<uint64_t>(request.validated)))
        .kv("new-va", klog::hex(reinterpret_cast<uint64_t>(request.remapped))).kv("size", klog::size(request.size))
        .kv("kind", mm::range_kind_name(request.expected_kind)).kv("identical", true);
}

}  // namespace

// book:begin remap-handoff
const boot::BootHandoff& MemoryManager::remap_handoff() {
    KASSERT(tables().window_live());
    const boot::BootHandoff& old = handoff();
    const mm::PhysAddr handoff_pa(reinterpret_cast<uint64_t>(&old));  // identity: va == pa
    const mm::PhysAddr map_pa(old.memory_map);

    const mm::RemapRequest handoff{"handoff", handoff_pa, sizeof(boot::BootHandoff), mm::RangeKind::kBootHandoff,
                                   reinterpret_cast<const uint8_t*>(&old),
                                   mm::phys_to_pointer<const uint8_t>(handoff_pa)};
    mm::RemapRequest map{"memory-map", map_pa, old.memory_map_size, mm::RangeKind::kBootHandoff,
                         reinterpret_cast<const uint8_t*>(old.memory_map), mm::phys_to_pointer<const uint8_t>(map_pa)};
    corrupt_if_requested(map, old);
    remap(handoff, memory().ranges);
    remap(map, memory().ranges);

    // Both passed: switch every pointer to the window.
    const boot::BootHandoff& moved = *mm::phys_to_pointer<const boot::BootHandoff>(handoff_pa);
    set_handoff(moved);
    kernel::relocate_handoff(&moved);
    memory().descriptors = mm::MemoryDescriptorView(map.remapped, moved.memory_map_size, moved.descriptor_size);
    return moved;
}
// book:end remap-handoff

// book:begin remove-identity-map
void MemoryManager::remove_identity_map() {
    const mm::ReleasedTables released = mm::remove_lower_half(pml4(), tables());
    // Many entries changed at once: reloading CR3 drops every non-global
    // translation (SDM Vol. 3A, 4.10.4.1), and none of ours is global.
    x86::write_cr3(x86::read_cr3());
    uint64_t returned = 0;
    for (mm::PhysAddr frame : released) returned += frames().return_page_table_frame(frame);

    if (!mm::lower_half_is_empty(pml4(), tables()) || mm::translate(pml4(), tables(), mm::VirtAddr(0)).present) {
        klog::error("paging").msg("lower half still mapped after removal");
        mm::KernelAddressSpace::stop();
    }
    klog::info("paging").msg("identity map removed").kv("pml4-entries", uint64_t(released.pml4_entries))
        .kv("tables-released", uint64_t(released.count)).kv("returned-to-reserve", returned)
        .kv("flush", "cr3-reload");
}
// book:end remove-identity-map

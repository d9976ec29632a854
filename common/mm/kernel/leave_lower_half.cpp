#include "mm/kernel/leave_lower_half.h"

#include "arch/x86/cpu.h"
#include "mm/handoff_remap.h"
#include "kernel/kernel.h"
#include "mm/kernel/address_space.h"
#include "mm/lower_half.h"
#include "mm/memory_map_log.h"
#include "mm/page_table_lookup.h"
#include "kernel/panic.h"
#include "support/log.h"

namespace mm {
namespace {

// One buffer: checked at its window address against its identity address.
// False, and the rejection logged, when the check refuses it.
bool check_remap(const RemapRequest& request, const MemoryRangeList& ranges) {
    if (Violation v = check_remapped_buffer(request, ranges); !v.ok()) {
        klog::error("remap").msg(request.name).msg("rejected").kv("field", v.field).kv("value", klog::hex(v.value))
            .kv("rule", v.rule);
        return false;
    }
    klog::info("remap").msg(request.name).kv("pa", klog::hex(request.pa))
        .kv("old-va", klog::hex(reinterpret_cast<uint64_t>(request.validated)))
        .kv("new-va", klog::hex(reinterpret_cast<uint64_t>(request.remapped))).kv("size", klog::size(request.size))
        .kv("kind", range_kind_name(request.expected_kind)).kv("identical", true);
    return true;
}

// Both buffers, the handoff first; false when either is refused.
bool check_both(const RemapRequest& handoff, const RemapRequest& map, const MemoryRangeList& ranges) {
    return check_remap(handoff, ranges) && check_remap(map, ranges);
}

// ---- test.corrupt-remap=…: damage on purpose ---------------------------------
// The memory map's remap request is damaged, to prove each check refuses it
// (tests/test_08_handoff_remap.py). Each damage breaks one rule of
// check_remapped_buffer() and leaves the others holding.

// Returns false when `how` names no damage we know.
bool damage(Str how, RemapRequest& map, const HandoffView& handoff) {
    if (how == Str("offset")) map.remapped = phys_to_pointer<const uint8_t>(map.pa + kPageSize);  // other bytes
    else if (how == Str("size")) map.size = 2 * MiB;  // more than any buffer the loader hands over
    else if (how == Str("region")) map.pa = handoff.kernel.physical_base;  // kernel-image, not boot-handoff
    else return false;
    return true;
}

// Every damage damage() knows, in the order test.corrupt-remap=all applies them.
constexpr Str kRemapDamages[] = {"offset", "size", "region"};

// test.corrupt-remap=all: every damage in turn, each to a fresh copy of the
// undamaged request (the checks run in order, so a damage left over would
// hide the next one's rule) and through the same check_both() as the real
// remap, so that one boot shows every rejection by name. The boot then stops
// as a single rejection stops it; a damage that was let through is an error.
[[noreturn]] void reject_every_damage(const RemapRequest& handoff, const RemapRequest& map,
                                      const HandoffView& view, const MemoryRangeList& ranges) {
    uint64_t accepted = 0;
    for (Str how : kRemapDamages) {
        RemapRequest damaged = map;
        const bool known = damage(how, damaged, view);
        KASSERT(known);  // kRemapDamages lists only names damage() knows
        klog::warn("remap").msg("damaging the memory-map remap on request").kv("corruption", how);
        if (check_both(handoff, damaged, ranges)) {
            klog::error("remap").msg("damage accepted").kv("corruption", how);
            ++accepted;
        }
    }
    klog::info("remap").msg("every damage tried").kv("kinds", uint64_t(sizeof(kRemapDamages) / sizeof(Str)))
        .kv("accepted", accepted);
    kernel::fail();
}

// The memory map's request as test.corrupt-remap says: untouched, damaged
// once, or (=all) every damage tried and the boot stopped.
void corrupt_if_requested(const RemapRequest& handoff, RemapRequest& map, const HandoffView& view,
                          const MemoryRangeList& ranges) {
    const Str how = kernel::command_line().value("test.corrupt-remap");
    if (how.empty()) return;
    if (how == Str("all")) reject_every_damage(handoff, map, view, ranges);
    klog::warn("remap").msg("damaging the memory-map remap on request").kv("corruption", how);
    if (!damage(how, map, view)) kernel::panic("unknown test.corrupt-remap value");
}

}  // namespace

// book:begin remap-handoff
void remap_handoff(KernelAddressSpace& space) {
    KASSERT(space.tables().window_live());
    const HandoffView& view = space.handoff();  // physical addresses: true before and after
    BootMemory& memory = space.memory();
    // The old addresses are the loader's identity map: va == pa.
    auto identity = [](PhysAddr pa) { return reinterpret_cast<const uint8_t*>(pa.value()); };

    const RemapRequest handoff{"handoff", view.address, sizeof(boot::BootHandoff), RangeKind::kBootHandoff,
                               identity(view.address), phys_to_pointer<const uint8_t>(view.address)};
    RemapRequest map{"memory-map", view.memory_map, view.memory_map_size, RangeKind::kBootHandoff,
                     identity(view.memory_map), phys_to_pointer<const uint8_t>(view.memory_map)};
    corrupt_if_requested(handoff, map, view, memory.ranges);
    if (!check_both(handoff, map, memory.ranges)) kernel::fail();

    // Both passed: switch the two pointers to the window, the runtime's
    // handoff (its one holder) and the memory map's descriptor view.
    kernel::relocate_handoff(phys_to_pointer<const boot::BootHandoff>(view.address));
    memory.descriptors = MemoryDescriptorView(map.remapped, view.memory_map_size, view.descriptor_size);
}
// book:end remap-handoff

// book:begin remove-identity-map
void remove_identity_map(KernelAddressSpace& space) {
    const PhysAddr root = space.root();
    BootTableAccess& tables = space.tables();
    const ReleasedTables released = remove_lower_half(root, tables, space.depth());
    // Many entries changed at once: reloading CR3 drops every non-global
    // translation (SDM Vol. 3A, 4.10.4.1). None of ours is global, but with
    // CR4.PGE on, a global one the firmware left would survive that: drop it.
    x86::write_cr3(x86::read_cr3());
    const bool had_global_pages = x86::drop_global_translations();
    uint64_t returned = 0;
    for (PhysAddr frame : released) returned += space.frames().return_page_table_frame(frame);

    if (!lower_half_is_empty(root, tables) || translate(root, tables, VirtAddr(0), space.depth()).present) {
        klog::error("paging").msg("lower half still mapped after removal");
        kernel::fail();
    }
    // The root's entries: a PML5's at five levels (chapter 16).
    const char* top_entries = space.depth() == PagingDepth::kFiveLevel ? "pml5-entries" : "pml4-entries";
    klog::info("paging").msg("identity map removed").kv(top_entries, uint64_t(released.pml4_entries))
        .kv("tables-released", uint64_t(released.count)).kv("returned-to-reserve", returned)
        .kv("flush", had_global_pages ? "cr3-reload+pge-toggle" : "cr3-reload");
}
// book:end remove-identity-map

// book:begin check-upper-half-only
// Everything the rest of the boot needs, reached at upper-half addresses only:
// the handoff (the runtime's, which the command line is read from), the
// memory map (validated again at its window address, and it must normalise to
// the same ranges), and the kernel's own code, data and stack, which never
// were in the lower half.
void check_upper_half_only(KernelAddressSpace& space) {
    static BootMemory again;
    const BootMemory& memory = space.memory();
    const boot::BootHandoff& handoff = kernel::boot_handoff();
    const PhysAddr handoff_pa = window_to_phys(&handoff);
    const uint8_t* map = phys_to_pointer<const uint8_t>(space.handoff().memory_map);
    if (Violation v = load_boot_memory(handoff, handoff_pa, map, &again); !v.ok()) {
        log_rejection("remap", "handoff at its window address", v);
        kernel::fail();
    }
    bool same = again.ranges.count() == memory.ranges.count();
    for (size_t i = 0; same && i < again.ranges.count(); ++i)
        same = again.ranges[i].start == memory.ranges[i].start && again.ranges[i].end == memory.ranges[i].end &&
               again.ranges[i].kind == memory.ranges[i].kind;
    if (!same) {
        klog::error("remap").msg("memory map differs at its window address");
        kernel::fail();
    }
    klog::info("remap").msg("upper half only").kv("handoff-va", klog::hex(reinterpret_cast<uint64_t>(&handoff)))
        .kv("map-va", klog::hex(reinterpret_cast<uint64_t>(map))).kv("ranges", uint64_t(again.ranges.count()))
        .kv("ranges-equal", same).kv("cmdline", Str(kernel::command_line().value("probe")))
        .kv("reserve", uint64_t(space.frames().reserve_len()));
}
// book:end check-upper-half-only

// book:begin leave-lower-half
void leave_lower_half(KernelAddressSpace& space) {
    remap_handoff(space);
    remove_identity_map(space);
    check_upper_half_only(space);
}
// book:end leave-lower-half

}  // namespace mm

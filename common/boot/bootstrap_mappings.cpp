#include "boot/bootstrap_mappings.h"

#include "mm/page_table_index.h"
#include "support/units.h"

namespace boot {
namespace {

using mm::MappingPolicy;
using mm::PageSize;
namespace leaf_flags = mm::leaf_flags;

constexpr uint64_t kIdentityStart = kPageSize;  // page 0 stays unmapped

// One piece of the bootstrap address space: [va, va + length) -> pa.
struct Region {
    const char* name;
    uint64_t va, pa, length;
    MappingPolicy policy;
};

MappingPolicy without_nx_if_absent(MappingPolicy policy, bool cpu_has_nx) {
    if (!cpu_has_nx) policy.leaf_flags &= ~x86::pte::kNoExecute;
    return policy;
}

// The identity map's exceptions, page-rounded and clipped to the extent.
struct Exceptions {
    Region items[2];
    size_t count = 0;
};

Exceptions identity_exceptions(const BootstrapPlan& plan) {
    Exceptions e;
    auto add = [&](const char* name, uint64_t start, uint64_t end, uint64_t flags) {
        start = align_down(start, kPageSize);
        align_up(end, kPageSize, &end);  // a physical address: far from 2^64
        if (start < kIdentityStart) start = kIdentityStart;
        if (end > plan.identity_top) end = plan.identity_top;
        if (start >= end) return;
        const MappingPolicy policy = without_nx_if_absent({flags, PageSize::k4KiB}, plan.cpu_has_nx);
        // Kept sorted by address; the trampoline's page and the kernel's image
        // are two firmware allocations, so they never overlap.
        size_t i = e.count++;
        for (; i > 0 && e.items[i - 1].va > start; --i) e.items[i] = e.items[i - 1];
        e.items[i] = {name, start, start, end - start, policy};
    };
    add("handover-trampoline", plan.trampoline_page, plan.trampoline_page + kPageSize, leaf_flags::kKernelText);
    add("kernel-image-frames", plan.kernel_physical_base, plan.kernel_physical_base + plan.kernel->span,
        leaf_flags::kKernelRodata);
    return e;
}

// Calls `visit` with every region in ascending order of virtual address: the
// identity map cut around its exceptions, then the kernel's segments.
template <typename Visit>
bool for_each_region(const BootstrapPlan& plan, Visit visit) {
    // 2 MiB pages at most, as the loader always used: it reads no MTRRs, and
    // a 1 GiB page spanning two MTRR types (RAM and the PCI hole below 4 GiB)
    // is undefined behaviour (SDM Vol. 3A, 11.11.9); the kernel's own
    // identity map (chapter 04) is the one that picks 1 GiB pages with care.
    MappingPolicy identity = without_nx_if_absent(mm::identity_low_memory_policy(), plan.cpu_has_nx);
    identity.max_page_size = PageSize::k2MiB;
    const Exceptions exceptions = identity_exceptions(plan);
    uint64_t at = kIdentityStart;
    for (size_t i = 0; i < exceptions.count; ++i) {
        const Region& x = exceptions.items[i];
        if (x.va > at && !visit(Region{"identity", at, at, x.va - at, identity})) return false;
        if (!visit(x)) return false;
        at = x.va + x.length;
    }
    if (plan.identity_top > at && !visit(Region{"identity", at, at, plan.identity_top - at, identity})) return false;

    // book:begin kernel-permissions
    const elf::KernelImageLayout& layout = *plan.kernel;
    for (size_t i = 0; i < layout.segment_count; ++i) {
        const elf::LoadSegment& s = layout.segments[i];
        const bool writable = s.flags & elf::kSegmentWritable, executable = s.flags & elf::kSegmentExecutable;
        const MappingPolicy policy = without_nx_if_absent(
            executable ? mm::kKernelTextPolicy : writable ? mm::kKernelDataPolicy : mm::kKernelRodataPolicy,
            plan.cpu_has_nx);
        const uint64_t va = align_down(s.virtual_address, kPageSize);
        uint64_t end = 0;
        align_up(s.virtual_address + s.memory_size, kPageSize, &end);  // validated: cannot overflow
        if (!visit(Region{"kernel-segment", va, plan.kernel_physical_base + (va - layout.virtual_base), end - va, policy}))
            return false;
    }
    // book:end kernel-permissions
    return true;
}

// Tables one region may need, counted as if it shared none with its
// neighbours: one per 512 GiB, 1 GiB and 2 MiB region it touches at the
// levels it can reach, where a region with large pages needs page tables only
// at its two unaligned ends.
uint64_t tables_for(const Region& r) {
    const uint64_t first = r.va, last = r.va + r.length - 1;
    auto touched = [&](mm::PageTableLevel level) {
        const uint64_t span = mm::entry_span(level);
        return last / span - first / span + 1;
    };
    const uint64_t pdpts = touched(mm::PageTableLevel::kPml4);
    const uint64_t pds = touched(mm::PageTableLevel::kPdpt);
    const uint64_t pts = touched(mm::PageTableLevel::kPd);
    if (r.policy.max_page_size == PageSize::k4KiB) return pdpts + pds + pts;
    return pdpts + pds + (pts < 2 ? pts : 2);
}

}  // namespace

uint64_t bootstrap_table_pages_bound(const BootstrapPlan& plan) {
    uint64_t tables = 1;  // the PML4
    for_each_region(plan, [&](const Region& r) {
        tables += tables_for(r);
        return true;
    });
    return tables;
}

BootstrapResult map_bootstrap(mm::PageTableBuilder& builder, const BootstrapPlan& plan) {
    BootstrapResult result;
    for_each_region(plan, [&](const Region& r) {
        const mm::MapResult mapped = builder.map_range(mm::VirtAddr(r.va), mm::PhysAddr(r.pa), r.length, r.policy);
        if (!mapped.ok()) {
            result.status = mapped.status;
            result.region = r.name;
            result.va = mapped.where.value();
            return false;
        }
        result.mapped += mapped.mapped;
        return true;
    });
    return result;
}

}  // namespace boot

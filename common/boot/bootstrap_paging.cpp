#include "boot/bootstrap_paging.h"

#include "arch/x86/cpu.h"
#include "boot/bootstrap_mappings.h"
#include "boot/firmware_memory.h"
#include "boot/loader_log.h"
#include "mm/physical_memory.h"
#include "support/units.h"

namespace boot {
namespace {

// Table frames from one block of kBootPageTables pages, handed out in order,
// so the pages used are the block's head and the unused tail can be returned.
class TablePool final : public mm::FrameSource {
public:
    TablePool(uint64_t base, uint64_t pages) : next_(base), end_(base + pages * kPageSize) {}

    mm::FrameResult alloc_frame() override { return alloc_page_table_frame(); }
    mm::FrameResult alloc_page_table_frame() override {
        if (next_ == end_) return mm::FrameResult::out_of_memory();
        const uint64_t frame = next_;
        next_ += kPageSize;
        return mm::FrameResult::success(mm::PhysAddr(frame));
    }
    size_t page_table_frames_available() const override { return (end_ - next_) / kPageSize; }

private:
    uint64_t next_, end_;
};

}  // namespace

BootstrapTables build_bootstrap_tables(EFI_HANDLE image, uint64_t identity_top, const LoadedKernel& kernel,
                                       const HandoverTrampoline& trampoline) {
    // NX needs EFER.NXE, which the loader sets before the jump; on a CPU
    // without NX the bit would be reserved, so it is left out there.
    const BootstrapPlan plan{identity_top,
                             trampoline.page,
                             kernel.physical_base,
                             &kernel.layout,
                             x86::cpu_has_nx()};

    // One allocation adds at most one descriptor to the memory map, however
    // large the machine (one page per table on a 1 TiB machine would add over
    // a thousand, more than the map buffer's slack). Below 4 GiB: the
    // trampoline may load the PML4 from 32-bit code (handover_trampoline.h).
    const uint64_t reserved = bootstrap_table_pages_bound(plan);
    const uint64_t pool =
        allocate_loader_pages(image, EfiMemoryType::kBootPageTables, reserved, "bootstrap page tables", kBelow4GiB);
    TablePool frames(pool, reserved);
    mm::IdentityMappedMemory memory;  // boot services run identity-mapped
    const mm::FrameResult pml4 = mm::PageTableBuilder::create_pml4(memory, frames);
    if (!pml4.ok()) {
        klog::error("loader").msg("bootstrap tables rejected").kv("region", "pml4").kv("field", "table-pages")
            .kv("value", reserved).kv("rule", mm::describe(mm::MapStatus::kOutOfTableFrames));
        loader_fail(image, EFI_OUT_OF_RESOURCES);
    }
    // No 1 GiB pages: the loader maps with 2 MiB pages at most (bootstrap_mappings.cpp).
    mm::PageTableBuilder builder(pml4.frame(), memory, frames, /*cpu_has_1gib_pages=*/false);
    const BootstrapResult result = map_bootstrap(builder, plan);
    if (!result.ok()) {
        klog::error("loader").msg("bootstrap tables rejected").kv("region", result.region).kv("field", "va")
            .kv("value", klog::hex(result.va)).kv("rule", mm::describe(result.status));
        loader_fail(image, EFI_LOAD_ERROR);
    }

    // Give back what the bound over-counted, while boot services can still
    // take it: the final map then shows exactly the tables in use.
    const uint64_t used = reserved - frames.page_table_frames_available();
    if (used < reserved) BS->FreePages(pool + used * kPageSize, reserved - used);

    klog::info("loader")
        .msg("bootstrap tables")
        .kv("pml4", klog::hex(pml4.frame()))
        .kv("identity", klog::size(identity_top))
        .kv("table-pages", used)
        .kv("table-pages-reserved", reserved)
        .kv("nx", plan.cpu_has_nx)
        .kv("trampoline", klog::hex(plan.trampoline_page));
    return {pml4.frame().value(), identity_top, used};
}

}  // namespace boot

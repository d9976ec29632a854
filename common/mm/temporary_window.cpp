#include "mm/temporary_window.h"

#include "mm/mapping_log.h"
#include "mm/page_table_index.h"
#include "support/log.h"

namespace mm {
namespace {

// A compiler barrier: no load or store is moved across it, and no value read
// from memory before it is reused after it. The CPU is not involved (its own
// accesses and page walks are in program order on one core); the compiler
// would otherwise be free to read the slot's contents before the PTE that
// makes them appear is written, since it cannot see that one changes the other.
inline void compiler_barrier() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

}  // namespace

// ---- TemporaryWindow ------------------------------------------------------------

// book:begin temporary-window-create
TableResult TemporaryWindow::create(PageTableBuilder& builder, PhysicalMemoryAccess& tables, TlbInvalidator& tlb,
                                    CpuPagingFeatures cpu, VirtAddr slot) {
    KASSERT(!ready());
    const TableResult table = builder.prepare_page_table(slot);
    if (!table.ok()) return table;
    // The slot is the window's alone: it must not be mapped by anyone else.
    const PageTableEntry& entry = (*tables.table_at(table.table))[index_at(slot, PageTableLevel::kPt)];
    if (entry.present()) return {MapStatus::kAlreadyMapped, table.table, table.tables_created};

    tables_ = &tables;
    tlb_ = &tlb;
    slot_ = slot;
    page_table_ = table.table;
    leaf_flags_ = leaf_entry_flags(fit_to_cpu(kTemporaryWindowPolicy, cpu), PageSize::k4KiB);
    return table;
}
// book:end temporary-window-create

// book:begin temporary-window-map
// lab:begin window-map
TemporaryMapping TemporaryWindow::map(PhysAddr frame) {
    KASSERT(ready());
    KASSERT(!in_use_ && "the temporary window is already mapped: one TemporaryMapping at a time");
    in_use_ = true;
    ++maps_;
    write_entry(frame);
    // Not required if every earlier change was invalidated: see the top of
    // temporary_window.h for why the window does it anyway.
    TlbFlush(slot_, *tlb_).flush();
    return TemporaryMapping(*this, frame);
}

void TemporaryWindow::unmap() {
    KASSERT(in_use_);
    compiler_barrier();  // every access through the slot happens before the PTE goes
    slot_entry().clear();
    compiler_barrier();
    // The entry was present, so the CPU may hold its translation: this
    // invalidation is the one correctness needs (SDM 4.10.4.2 "Recommended Invalidation").
    TlbFlush(slot_, *tlb_).flush();
    in_use_ = false;
}
// lab:end window-map
// book:end temporary-window-map

PageTableEntry& TemporaryWindow::slot_entry() {
    return (*tables_->table_at(page_table_))[index_at(slot_, PageTableLevel::kPt)];
}

void TemporaryWindow::write_entry(PhysAddr frame) {
    // A frame is page-aligned and below 2^52 by construction; anything else is a bug here.
    KASSERT(frame.is_aligned(kPageSize) && frame.value() < PhysAddr::kLimit);
    compiler_barrier();
    slot_entry().set(PageTableLevel::kPt, frame, leaf_flags_);
    compiler_barrier();
}

// book:begin create-temporary-window
TableResult create_temporary_window(PageTableBuilder& builder, PhysicalMemoryAccess& tables, TlbInvalidator& tlb,
                                    CpuPagingFeatures cpu, TemporaryWindow& window) {
    const VirtAddr slot = layout::kTemporaryWindowSlot;
    const TableResult created = window.create(builder, tables, tlb, cpu, slot);
    if (!created.ok()) {
        klog::error("paging").msg("temporary window rejected").kv("va", klog::hex(slot))
            .kv("rule", describe(created.status));
        return created;
    }
    klog::info("paging").msg("phase create_temporary_window").kv("va", klog::hex(slot))
        .kv("pt", klog::hex(created.table)).kv("tables", created.tables_created)
        .kv("flags", flags_text(window.leaf_flags()).text);
    return created;
}
// book:end create-temporary-window

// ---- TemporaryMapping -----------------------------------------------------------

TemporaryMapping::~TemporaryMapping() { window_.unmap(); }

VirtAddr TemporaryMapping::va() const { return window_.slot(); }

// book:begin temporary-mapping-remap
TlbFlush TemporaryMapping::remap(PhysAddr frame) {
    window_.write_entry(frame);
    frame_ = frame;
    return TlbFlush(window_.slot(), *window_.tlb_);
}
// book:end temporary-mapping-remap

}  // namespace mm

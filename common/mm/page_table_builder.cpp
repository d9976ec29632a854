#include "mm/page_table_builder.h"

#include "mm/page_table_index.h"
#include "support/assert.h"
#include "support/units.h"

namespace mm {
namespace {

// Every new table, the PML4 included, is zeroed while nothing points to it yet:
// an entry installed first would, for a moment, make garbage reachable as
// page-table entries.
void zero_table(PhysicalMemoryAccess& memory, PhysAddr frame) {
    KASSERT(frame.is_aligned(kPageSize));
    for (PageTableEntry& entry : memory.table_at(frame)->entries) entry.clear();
}

}  // namespace

const char* describe(MapStatus status) {
    switch (status) {
        case MapStatus::kOk: return "mapped";
        case MapStatus::kZeroLength: return "length must not be zero";
        case MapStatus::kMisalignedVirtual: return "virtual address must be 4KiB-aligned";
        case MapStatus::kMisalignedPhysical: return "physical address must be 4KiB-aligned";
        case MapStatus::kMisalignedLength: return "length must be a multiple of 4KiB";
        case MapStatus::kNonCanonical:
            // Bits 63..47 at 4 levels, 63..56 at 5 (VirtAddr::is_canonical).
            return "virtual range must be canonical and must not cross the hole";
        case MapStatus::kVirtualWraps: return "virtual range must end below 2^64";
        case MapStatus::kPhysicalBeyondLimit: return "physical range must end at or below 2^52";
        case MapStatus::kAlreadyMapped: return "must not remap a page that is already present";
        case MapStatus::kHugePageInTheWay: return "must not map inside a present 2MiB or 1GiB page";
        case MapStatus::kOutOfTableFrames: return "needs more page-table frames than the frame source has";
        case MapStatus::kOutsideRegion: return "must end inside its region of the virtual address space";
    }
    return "unknown map status";
}

uint64_t MapStats::pages(PageSize size) const {
    switch (size) {
        case PageSize::k4KiB: return pages_4k;
        case PageSize::k2MiB: return pages_2m;
        case PageSize::k1GiB: return pages_1g;
    }
    return 0;
}

uint64_t MapStats::bytes_mapped() const {
    return pages_4k * bytes(PageSize::k4KiB) + pages_2m * bytes(PageSize::k2MiB) + pages_1g * bytes(PageSize::k1GiB);
}

void MapStats::count_page(PageSize size) {
    switch (size) {
        case PageSize::k4KiB: ++pages_4k; break;
        case PageSize::k2MiB: ++pages_2m; break;
        case PageSize::k1GiB: ++pages_1g; break;
    }
}

MapStats& MapStats::operator+=(const MapStats& other) {
    pages_4k += other.pages_4k;
    pages_2m += other.pages_2m;
    pages_1g += other.pages_1g;
    tables_created += other.tables_created;
    split_by_mtrr += other.split_by_mtrr;
    return *this;
}

// The check pass creates nothing, so it must recognise on its own when two
// pages would share a table that does not exist yet. Pages are visited in
// ascending order, so all the pages under one missing entry come one after the
// other: remembering the last missing entry per level is enough to count each
// new table exactly once.
class PageTableBuilder::NewTableCounter {
public:
    // The entry at `level` that translates `va` is missing: one table must be
    // created under it, unless an earlier page already counted that table.
    void note_missing_entry(PageTableLevel level, VirtAddr va, MapStats& stats) {
        const unsigned slot = static_cast<unsigned>(level) - 1;  // < kMaxPagingLevels: a level is at most kPml5
        const uint64_t region = align_down(va.value(), entry_span(level));
        if (counted_[slot] && region_[slot] == region) return;
        counted_[slot] = true;
        region_[slot] = region;
        ++stats.tables_created;
    }

private:
    bool counted_[kMaxPagingLevels] = {};
    uint64_t region_[kMaxPagingLevels] = {};
};

PageTableBuilder::PageTableBuilder(PhysAddr root, PhysicalMemoryAccess& memory, FrameSource& frames,
                                   bool cpu_has_1gib_pages, PagingDepth depth)
    : root_(root), memory_(memory), frames_(frames), cpu_has_1gib_pages_(cpu_has_1gib_pages), depth_(depth) {
    KASSERT(root.is_aligned(kPageSize));
}

FrameResult PageTableBuilder::create_pml4(PhysicalMemoryAccess& memory, FrameSource& frames) {
    const FrameResult frame = frames.alloc_page_table_frame();
    if (frame.ok()) zero_table(memory, frame.frame());
    return frame;
}

MapResult PageTableBuilder::map_range(VirtAddr va, PhysAddr pa, uint64_t length, const MappingPolicy& policy) {
    // The policy is code, not input: a wrong one is a bug, not a refusal.
    // PS is the builder's to set (per page size), and bit 12 would land in the
    // address of a 4 KiB page. Caching comes from the policy's memory type
    // (leaf_entry_flags), never from loose PWT/PCD/PAT bits.
    KASSERT((policy.leaf_flags & x86::pte::kPresent) != 0);
    KASSERT((policy.leaf_flags & (x86::pte::kAddressMask | x86::pte::kHugePage | kCacheBitsMask)) == 0);

    const MapResult invalid = validate(va, pa, length);
    if (!invalid.ok()) return invalid;

    const MapResult planned = walk_range(Pass::kCheck, va, pa, length, policy);
    if (!planned.ok()) return planned;
    if (planned.mapped.tables_created > frames_.page_table_frames_available())
        return {MapStatus::kOutOfTableFrames, va, {}};

    // Entries only go from not present to present here, which needs no TLB
    // invalidation (SDM Vol. 3A, 4.10.4.3); changing live entries is a later
    // chapter's business, with its flush token.
    const MapResult written = walk_range(Pass::kWrite, va, pa, length, policy);
    KASSERT(written.ok() && written.mapped == planned.mapped);  // both passes walked the same pages
    stats_ += written.mapped;
    return written;
}

MapResult PageTableBuilder::validate(VirtAddr va, PhysAddr pa, uint64_t length) const {
    if (length == 0) return {MapStatus::kZeroLength, va, {}};
    if (!va.is_aligned(kPageSize)) return {MapStatus::kMisalignedVirtual, va, {}};
    if (!pa.is_aligned(kPageSize)) return {MapStatus::kMisalignedPhysical, va, {}};
    if (!is_aligned(length, kPageSize)) return {MapStatus::kMisalignedLength, va, {}};
    if (!va.is_canonical(depth_)) return {MapStatus::kNonCanonical, va, {}};

    uint64_t last = 0;
    if (__builtin_add_overflow(va.value(), length - 1, &last)) return {MapStatus::kVirtualWraps, va, {}};
    // An upper-half start cannot reach the lower half without wrapping, so
    // only a lower-half range can run into the non-canonical hole.
    if (!va.is_upper_half() && !VirtAddr(last).is_canonical(depth_)) {
        const VirtAddr hole(uint64_t(1) << (translated_bits(depth_) - 1));
        return {MapStatus::kNonCanonical, hole, {}};
    }

    if (pa.value() >= PhysAddr::kLimit || length > PhysAddr::kLimit - pa.value())
        return {MapStatus::kPhysicalBeyondLimit, va, {}};
    return {MapStatus::kOk, va, {}};
}

// lab:begin choose-pages
MapResult PageTableBuilder::walk_range(Pass pass, VirtAddr va, PhysAddr pa, uint64_t length,
                                       const MappingPolicy& policy) {
    MapResult result{MapStatus::kOk, va, {}};
    NewTableCounter counter;
    for (uint64_t done = 0; done < length;) {
        const VirtAddr page_va = va + done;
        const PhysAddr page_pa = pa + done;
        const PageChoice choice = choose_page(page_va, page_pa, length - done, policy, cpu_has_1gib_pages_);
        PageSize size = choice.size;
        if (choice.split_by_mtrr) ++result.mapped.split_by_mtrr;
        const MapStatus status = map_page(pass, page_va, page_pa, &size, policy, counter, result.mapped);
        if (status != MapStatus::kOk) return {status, page_va, {}};
        done += bytes(size);
    }
    return result;
}
// lab:end choose-pages

// Maps one page of `*size` at va -> pa, or, in the check pass, only finds out
// whether it could and which tables it would need. Both passes make the same
// decisions from the same tables: the check pass treats a table it would
// create as empty, which is what the write pass then creates.
// lab:begin map-page
MapStatus PageTableBuilder::map_page(Pass pass, VirtAddr va, PhysAddr pa, PageSize* size, const MappingPolicy& policy,
                                     NewTableCounter& counter, MapStats& stats) {
    PhysAddr table = root_;
    bool table_is_new = false;  // check pass, below a missing entry: every slot reads as empty
    for (PageTableLevel level = root_level(depth_);; level = next_lower(level)) {
        PageTableEntry* entry = table_is_new ? nullptr : &(*memory_.table_at(table))[index_at(va, level)];
        const bool occupied = entry != nullptr && entry->present();

        if (level == leaf_level(*size)) {
            if (!occupied) {
                if (pass == Pass::kWrite) {
                    KASSERT(entry != nullptr);
                    entry->set(level, pa, leaf_entry_flags(policy, *size));
                }
                stats.count_page(*size);
                return MapStatus::kOk;
            }
            if (level == PageTableLevel::kPt || entry->huge()) return MapStatus::kAlreadyMapped;
            // A table already sits where this large page would go, perhaps
            // holding mappings: keep it and map this page one size down, in it.
            *size = next_smaller(*size);
        }

        if (occupied) {
            // PS means this entry maps memory itself; following its address as
            // a table would write entries into somebody's data.
            if (entry->huge()) return MapStatus::kHugePageInTheWay;
            table = entry->address();
        } else if (pass == Pass::kCheck) {
            counter.note_missing_entry(level, va, stats);
            table_is_new = true;
        } else {
            table = install_new_table(*entry, level);
            ++stats.tables_created;
        }
    }
}
// lab:end map-page

TableResult PageTableBuilder::prepare_page_table(VirtAddr va) {
    if (!va.is_aligned(kPageSize)) return {MapStatus::kMisalignedVirtual, {}, 0};
    if (!va.is_canonical(depth_)) return {MapStatus::kNonCanonical, {}, 0};

    // Check first: every level below the first missing entry needs a new table.
    PhysAddr table = root_;
    uint64_t missing = 0;
    for (PageTableLevel level = root_level(depth_); level != PageTableLevel::kPt; level = next_lower(level)) {
        const PageTableEntry& entry = (*memory_.table_at(table))[index_at(va, level)];
        if (!entry.present()) {
            missing = static_cast<uint64_t>(level) - static_cast<uint64_t>(PageTableLevel::kPt);
            break;
        }
        if (entry.huge()) return {MapStatus::kHugePageInTheWay, {}, 0};
        table = entry.address();
    }
    if (missing > frames_.page_table_frames_available()) return {MapStatus::kOutOfTableFrames, {}, 0};

    // Then write: the same walk, creating what is missing.
    table = root_;
    for (PageTableLevel level = root_level(depth_); level != PageTableLevel::kPt; level = next_lower(level)) {
        PageTableEntry& entry = (*memory_.table_at(table))[index_at(va, level)];
        table = entry.present() ? entry.address() : install_new_table(entry, level);
    }
    stats_.tables_created += missing;
    return {MapStatus::kOk, table, missing};
}

// lab:begin install-table
PhysAddr PageTableBuilder::install_new_table(PageTableEntry& entry, PageTableLevel level) {
    const FrameResult frame = frames_.alloc_page_table_frame();
    KASSERT(frame.ok());  // the check pass saw enough frames available
    zero_table(memory_, frame.frame());
    entry.set(level, frame.frame(), kTableEntryFlags);
    return frame.frame();
}
// lab:end install-table

}  // namespace mm

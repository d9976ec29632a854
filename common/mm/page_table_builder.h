// PageTableBuilder: adds mappings to a set of 4-level (or 5-level) page tables.
//
// map_range() is all or nothing. It validates its input, then walks the range
// once without writing anything, to find conflicts and count the tables it
// will need, and only when the FrameSource can supply all of them does it
// write. A refusal therefore leaves the tables exactly as they were, and a
// half-built mapping is never left behind.
//
// The depth of the tables is the address space's, fixed when the builder is
// made: 4 levels unless it is told 5 (PagingDepth). It decides which addresses
// are canonical and which table the walk starts from; nothing else differs.
#pragma once

#include <stdint.h>

#include "mm/frame_source.h"
#include "mm/mapping_policy.h"
#include "mm/page_size.h"
#include "mm/page_table_entry.h"
#include "mm/paging_depth.h"
#include "mm/phys_addr.h"
#include "mm/physical_memory.h"
#include "mm/virt_addr.h"

namespace mm {

enum class MapStatus : uint8_t {
    kOk,
    kZeroLength,
    kMisalignedVirtual,
    kMisalignedPhysical,
    kMisalignedLength,
    kNonCanonical,
    kVirtualWraps,
    kPhysicalBeyondLimit,
    kAlreadyMapped,
    kHugePageInTheWay,
    kOutOfTableFrames,
    kOutsideRegion,  // a phase's own rule: the range does not fit the region of the address space it maps into
};

// The rule a refusal broke, as one sentence for a log line's rule= field.
const char* describe(MapStatus status);

// What was mapped with which page sizes, and how many tables it took: a
// mapping phase logs this.
struct MapStats {
    uint64_t pages_4k = 0;
    uint64_t pages_2m = 0;
    uint64_t pages_1g = 0;
    uint64_t tables_created = 0;
    uint64_t split_by_mtrr = 0;  // large pages alignment allowed but the MTRRs did not (one per page split)

    uint64_t pages(PageSize size) const;
    uint64_t bytes_mapped() const;
    void count_page(PageSize size);
    MapStats& operator+=(const MapStats& other);
    bool operator==(const MapStats&) const = default;
};

struct [[nodiscard]] MapResult {
    MapStatus status = MapStatus::kOk;
    VirtAddr where;     // the address the refusal is about: the start, or the page in conflict
    MapStats mapped;    // what this call added (all zero when refused)

    bool ok() const { return status == MapStatus::kOk; }
};

// A page table that prepare_page_table() found or created.
struct [[nodiscard]] TableResult {
    MapStatus status = MapStatus::kOk;
    PhysAddr table;               // the PT (when ok)
    uint64_t tables_created = 0;  // 0 when every table already existed

    bool ok() const { return status == MapStatus::kOk; }
};

class PageTableBuilder {
public:
    // `cpu_has_1gib_pages`: CPUID.80000001H:EDX.Page1GB[bit 26], read once
    // by whoever owns the address space. Without it PS in a PDPTE is a
    // reserved bit, so the builder never writes a 1 GiB leaf, whatever a
    // policy allows. It is a fact about the CPU, not about a region, so it is
    // set here once rather than carried by every policy. `root` is the table
    // CR3 will name: the PML4, or with `depth` 5 the PML5.
    PageTableBuilder(PhysAddr root, PhysicalMemoryAccess& memory, FrameSource& frames, bool cpu_has_1gib_pages,
                     PagingDepth depth = PagingDepth::kFourLevel);
    PageTableBuilder(const PageTableBuilder&) = delete;
    PageTableBuilder& operator=(const PageTableBuilder&) = delete;

    // A fresh, zeroed PML4 frame for a new address space (out_of_memory() when
    // no page-table frame is left). Nothing is mapped in it yet. An empty root
    // is the same at either depth, so a 5-level address space takes its PML5
    // from here too.
    static FrameResult create_pml4(PhysicalMemoryAccess& memory, FrameSource& frames);

    // Maps [va, va + length) to [pa, pa + length) under `policy`, using the
    // largest pages that the policy, the CPU and the alignment of both
    // addresses allow, so 4 KiB pages appear only at the edges. va, pa and
    // length must be 4 KiB multiples; nothing in the range may be mapped yet.
    // A slot already holding a table is filled at the next size down.
    MapResult map_range(VirtAddr va, PhysAddr pa, uint64_t length, const MappingPolicy& policy);

    // Makes sure the page table (PT) that would hold the 4 KiB leaf for `va`
    // exists, creating the tables missing on the way down, and maps nothing:
    // the leaf stays as it is, for an owner that writes it later (chapter 07's
    // temporary window). All or nothing, like map_range. Refuses a
    // non-canonical or unaligned `va` and a 2 MiB or 1 GiB page in the way.
    TableResult prepare_page_table(VirtAddr va);

    // The table CR3 names, at either depth.
    PhysAddr root() const { return root_; }
    PagingDepth depth() const { return depth_; }
    bool cpu_has_1gib_pages() const { return cpu_has_1gib_pages_; }
    // Totals over every successful map_range() of this builder.
    const MapStats& stats() const { return stats_; }

private:
    enum class Pass : uint8_t { kCheck, kWrite };
    class NewTableCounter;

    MapResult validate(VirtAddr va, PhysAddr pa, uint64_t length) const;
    MapResult walk_range(Pass pass, VirtAddr va, PhysAddr pa, uint64_t length, const MappingPolicy& policy);
    MapStatus map_page(Pass pass, VirtAddr va, PhysAddr pa, PageSize* size, const MappingPolicy& policy,
                       NewTableCounter& counter, MapStats& stats);
    PhysAddr install_new_table(PageTableEntry& entry, PageTableLevel level);

    PhysAddr root_;
    PhysicalMemoryAccess& memory_;
    FrameSource& frames_;
    bool cpu_has_1gib_pages_;
    PagingDepth depth_;
    MapStats stats_;
};

}  // namespace mm

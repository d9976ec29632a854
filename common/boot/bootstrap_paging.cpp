#include "boot/bootstrap_paging.h"

#include "arch/x86/cpu.h"
#include "arch/x86/paging_bits.h"
#include "boot/firmware_memory.h"
#include "boot/loader_log.h"
#include "support/units.h"

namespace boot {
namespace {

namespace pte = x86::pte;

// How many table pages the layout needs, counted exactly, so they can be taken
// from the firmware in one allocation: one allocation adds at most one
// descriptor to the memory map, however large the machine (one page per table
// on a 1 TiB machine would add over a thousand, more than the map buffer's slack).
uint64_t count_table_pages(uint64_t identity_top, const elf::KernelImageLayout& layout) {
    constexpr uint64_t kPdptSpan = 512 * ONE_GB;  // what one PML4 entry (one PDPT) covers
    const uint64_t pdpts = div_ceil(identity_top, kPdptSpan);
    const uint64_t pds = identity_top / ONE_GB;  // identity_top is a multiple of 1 GiB
    // The kernel, in the upper half so never sharing a table with the identity
    // map: one table per 512 GiB, 1 GiB and 2 MiB region its span touches.
    const uint64_t first = layout.virtual_base, last = layout.virtual_base + layout.span - 1;
    auto regions = [&](uint64_t size) { return last / size - first / size + 1; };
    return 1 + pdpts + pds + regions(kPdptSpan) + regions(ONE_GB) + regions(TWO_MB);
}

class TableBuilder {
public:
    TableBuilder(EFI_HANDLE image, uint64_t pool, uint64_t pool_pages)
        : image_(image), next_(pool), end_(pool + pool_pages * kPageSize) {
        pml4_ = new_table();
    }

    uint64_t pml4() const { return pml4_; }
    uint64_t pages() const { return pages_; }

    void map_2mb(uint64_t va, uint64_t pa, uint64_t flags) {
        const uint64_t pdpt = next_level(pml4_, pte::pml4_index(va));
        const uint64_t pd = next_level(pdpt, pte::pdpt_index(va));
        entries(pd)[pte::pd_index(va)] = pa | flags | pte::kPresent | pte::kHugePage;
    }

    void map_4kb(uint64_t va, uint64_t pa, uint64_t flags) {
        const uint64_t pdpt = next_level(pml4_, pte::pml4_index(va));
        const uint64_t pd = next_level(pdpt, pte::pdpt_index(va));
        const uint64_t pt = next_level(pd, pte::pd_index(va));
        entries(pt)[pte::pt_index(va)] = pa | flags | pte::kPresent;
    }

private:
    // Boot services run identity-mapped: a table's physical address is its pointer.
    static uint64_t* entries(uint64_t table) { return reinterpret_cast<uint64_t*>(table); }

    // The pool arrives zeroed (allocate_loader_pages), so a new table is empty.
    uint64_t new_table() {
        if (next_ == end_) {
            klog::error("loader").msg("bootstrap table pool exhausted").kv("pages", pages_).kv(
                "rule", "count_table_pages must cover the layout");
            loader_fail(image_, EFI_OUT_OF_RESOURCES);
        }
        ++pages_;
        const uint64_t table = next_;
        next_ += kPageSize;
        return table;
    }

    // Returns the table that entry `index` of `table` points to, creating it
    // on first use. Intermediate entries are RW and executable: the leaf
    // entries alone decide permissions.
    uint64_t next_level(uint64_t table, unsigned index) {
        uint64_t& entry = entries(table)[index];
        if (!(entry & pte::kPresent)) entry = new_table() | pte::kPresent | pte::kWritable;
        return entry & pte::kAddressMask;
    }

    EFI_HANDLE image_;
    uint64_t next_, end_;
    uint64_t pml4_ = 0;
    uint64_t pages_ = 0;
};

}  // namespace

BootstrapTables build_bootstrap_tables(EFI_HANDLE image, uint64_t identity_top, const LoadedKernel& kernel) {
    uint64_t top = 0;
    if (!align_up(identity_top, ONE_GB, &top)) top = align_down(identity_top, ONE_GB);

    const uint64_t pool_pages = count_table_pages(top, kernel.layout);
    const uint64_t pool = allocate_loader_pages(image, EfiMemoryType::kBootPageTables, pool_pages, "bootstrap page tables");
    TableBuilder tables(image, pool, pool_pages);
    for (uint64_t address = 0; address < top; address += TWO_MB) tables.map_2mb(address, address, pte::kWritable);

    // book:begin kernel-permissions
    // NX needs EFER.NXE, which the loader sets before the jump; on a CPU
    // without NX the bit would be reserved, so it is left out there.
    const uint64_t no_execute = x86::cpu_has_nx() ? pte::kNoExecute : 0;
    const elf::KernelImageLayout& layout = kernel.layout;
    for (size_t i = 0; i < layout.segment_count; ++i) {
        const elf::LoadSegment& s = layout.segments[i];
        uint64_t flags = 0;
        if (s.flags & elf::kSegmentWritable) flags |= pte::kWritable;
        if (!(s.flags & elf::kSegmentExecutable)) flags |= no_execute;
        uint64_t end = 0;
        align_up(s.virtual_address + s.memory_size, kPageSize, &end);  // validated: cannot overflow
        for (uint64_t va = align_down(s.virtual_address, kPageSize); va < end; va += kPageSize)
            tables.map_4kb(va, kernel.physical_base + (va - layout.virtual_base), flags);
    }
    // book:end kernel-permissions

    klog::info("loader")
        .msg("bootstrap tables")
        .kv("pml4", klog::hex(tables.pml4()))
        .kv("identity", klog::size(top))
        .kv("table-pages", tables.pages())
        .kv("table-pages-reserved", pool_pages)
        .kv("nx", no_execute != 0);
    return {tables.pml4(), top, tables.pages()};
}

}  // namespace boot

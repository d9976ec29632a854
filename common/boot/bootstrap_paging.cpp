#include "bootstrap_paging.h"

#include "arch/x86/cpu.h"
#include "arch/x86/paging_bits.h"
#include "firmware_memory.h"
#include "loader_log.h"
#include "support/units.h"

namespace boot {
namespace {

namespace pte = x86::pte;

class TableBuilder {
public:
    explicit TableBuilder(EFI_HANDLE image) : image_(image) { pml4_ = new_table(); }

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

    uint64_t new_table() {
        ++pages_;
        return allocate_loader_pages(image_, EfiMemoryType::kBootPageTables, 1, "bootstrap page table");
    }

    // Returns the table that entry `index` of `table` points to, creating it
    // (zeroed, then installed) on first use. Intermediate entries are RW and
    // executable: the leaf entries alone decide permissions.
    uint64_t next_level(uint64_t table, unsigned index) {
        uint64_t& entry = entries(table)[index];
        if (!(entry & pte::kPresent)) entry = new_table() | pte::kPresent | pte::kWritable;
        return entry & pte::kAddressMask;
    }

    EFI_HANDLE image_;
    uint64_t pml4_ = 0;
    uint64_t pages_ = 0;
};

}  // namespace

BootstrapTables build_bootstrap_tables(EFI_HANDLE image, uint64_t identity_top, const LoadedKernel& kernel) {
    uint64_t top = 0;
    if (!align_up(identity_top, ONE_GB, &top)) top = align_down(identity_top, ONE_GB);

    TableBuilder tables(image);
    for (uint64_t address = 0; address < top; address += TWO_MB) tables.map_2mb(address, address, pte::kWritable);

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

    klog::info("loader")
        .msg("bootstrap tables")
        .kv("pml4", klog::hex(tables.pml4()))
        .kv("identity", klog::size(top))
        .kv("table-pages", tables.pages())
        .kv("nx", no_execute != 0);
    return {tables.pml4(), top, tables.pages()};
}

}  // namespace boot

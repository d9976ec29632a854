// Chapter 05's phase map_phys_offset_regions over a fake physical memory.
#include <gtest/gtest.h>

#include "boot/uefi_memory.h"
#include "fake_physical_memory.h"
#include "memory_map_builder.h"
#include "mm/page_table_lookup.h"
#include "mm/phys_window.h"
#include "mm/ram_runs.h"
#include "support/log.h"

#include <string>

namespace {

std::string g_log;
void capture(klog::Level, const char* text, size_t length) { g_log.append(text, length); }

using boot::EfiMemoryType;
using mm::PhysAddr;
using mm::VirtAddr;

struct Tables {
    explicit Tables(bool cpu_has_1gib_pages = true)
        : builder{mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, cpu_has_1gib_pages} {}

    FakePhysicalMemory memory{PhysAddr(0x7000'0000), 64};
    FakeFrameSource frames{memory};
    mm::PageTableBuilder builder;

    mm::Translation at(PhysAddr pa) { return mm::translate(builder.root(), memory, mm::phys_to_virt(pa)); }
};

// Low RAM with a kind change inside it, the PCI hole with device ranges, and
// 3 GiB above 4 GiB: the shape of a q35 machine with 5 GiB.
FakeMemoryMap q35_like() {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x0, 0xA0)
        .add(EfiMemoryType::kConventional, 0x10'0000, 0x7'FE00)                // 1 MiB .. 2 GiB - 1 MiB
        .add(EfiMemoryType::kAcpiNvs, 0x7FF0'0000, 0x100)                      // .. 2 GiB: a kind change
        .add(EfiMemoryType::kReserved, 0xB000'0000, 0x1'0000, boot::kEfiMemoryUc)  // ECAM: device
        .add(EfiMemoryType::kMmio, 0xFFC0'0000, 0x400, boot::kEfiMemoryUc)
        .add(EfiMemoryType::kConventional, 0x1'0000'0000, 0xC'0000);           // 4 GiB .. 7 GiB
    return map;
}

}  // namespace

TEST(RamRuns, MergeTouchingRamOfAnyKindAndStopAtDevices) {
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(q35_like().view()).ok());
    std::vector<std::pair<uint64_t, uint64_t>> runs;
    mm::for_each_ram_run(ranges, [&](const mm::RamRun& r) {
        runs.emplace_back(r.start.value(), r.end.value());
        return true;
    });
    const std::vector<std::pair<uint64_t, uint64_t>> expected = {
        {0x0, 0xA'0000}, {0x10'0000, 0x8000'0000}, {0x1'0000'0000, 0x1'C000'0000}};
    EXPECT_EQ(runs, expected);
}

TEST(PhysWindow, MapsAllRamAtTheOffsetWithTheLargestPages) {
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(q35_like().view()).ok());
    Tables t;
    const mm::MapResult r = mm::map_phys_offset_regions(t.builder, ranges, mm::FrameExceptions{}, {true, true});
    ASSERT_TRUE(r.ok());
    // Page 0 is in the window (it is RAM), unlike in the identity map.
    EXPECT_TRUE(t.at(PhysAddr(0)).present);
    const mm::Translation above = t.at(PhysAddr(0x1'4000'1234));
    EXPECT_TRUE(above.present);
    EXPECT_EQ(above.pa, PhysAddr(0x1'4000'1234));
    EXPECT_EQ(above.page_size, mm::PageSize::k1GiB);
    EXPECT_EQ(above.flags & ~x86::pte::kHugePage, mm::leaf_flags::kPhysWindow);
    EXPECT_EQ(t.at(PhysAddr(0x7FF0'0000)).page_size, mm::PageSize::k1GiB);  // one page across the kind change
    EXPECT_FALSE(t.at(PhysAddr(0xB000'0000)).present);                      // device
    EXPECT_FALSE(t.at(PhysAddr(0x9000'0000)).present);                      // the hole
    EXPECT_FALSE(t.at(PhysAddr(0x1'C000'0000)).present);                    // past the end
    // [0, 640K) and [1M, 2M) in 4 KiB; [2M, 1G) and [1G, 2G) in 2 MiB and 1 GiB; 3 x 1 GiB above.
    EXPECT_EQ(r.mapped.pages_4k, 160u + 256u);
    EXPECT_EQ(r.mapped.pages_2m, 511u);
    EXPECT_EQ(r.mapped.pages_1g, 1u + 3u);
}

TEST(PhysWindow, Without1GiBPagesUses2MiB) {
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(q35_like().view()).ok());
    Tables t(/*cpu_has_1gib_pages=*/false);
    const mm::MapResult r = mm::map_phys_offset_regions(t.builder, ranges, mm::FrameExceptions{}, {true, false});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.mapped.pages_1g, 0u);
    EXPECT_EQ(r.mapped.pages_2m, 511u + 512u + 3u * 512u);
    EXPECT_EQ(t.at(PhysAddr(0x1'4000'0000)).page_size, mm::PageSize::k2MiB);
}

TEST(PhysWindow, PhysToVirtIsTheOffset) {
    EXPECT_EQ(mm::phys_to_virt(PhysAddr(0x1234)), VirtAddr(0xFFFF'8000'0000'1234ull));
    EXPECT_EQ(mm::window_to_phys(mm::phys_to_pointer<const void>(PhysAddr(0x5678))), PhysAddr(0x5678));
    EXPECT_DEATH((void)mm::phys_to_virt(PhysAddr(mm::layout::kPhysWindowSize)), "phys_window\\(\\).size");
}

namespace {

// WB by default, plus the UC ranges given as (base, size): a hand-made MTRR set.
mm::MtrrState mtrrs_with_uc(std::initializer_list<std::pair<uint64_t, uint64_t>> uc) {
    mm::MtrrState s;
    s.present = s.enabled = true;
    s.default_type = mm::mtrr_type::kWriteBack;
    s.physical_address_bits = 40;
    for (const auto& [base, size] : uc)
        s.variable[s.variable_count++] = {base, ~(size - 1) & 0xFF'FFFF'F000ull, mm::mtrr_type::kUncacheable,
                                          uint8_t(s.variable_count)};
    return s;
}

}  // namespace

TEST(PhysWindow, AnMtrrBoundaryInsideA1GiBPageSplitsItInto2MiBPages) {
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(q35_like().view()).ok());
    // UC over [5.5 GiB, 6 GiB): the gigabyte [5 GiB, 6 GiB) has two types.
    const mm::MtrrState mtrrs = mtrrs_with_uc({{0x1'6000'0000, 512 * MiB}});
    Tables t;
    const mm::MapResult r = mm::map_phys_offset_regions(t.builder, ranges, mm::FrameExceptions{}, {true, true, &mtrrs});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.mapped.pages_1g, 1u + 2u);         // [1G, 2G), [4G, 5G), [6G, 7G)
    EXPECT_EQ(r.mapped.pages_2m, 511u + 512u);     // the split gigabyte in 2 MiB pages
    EXPECT_EQ(r.mapped.pages_4k, 160u + 256u);
    EXPECT_EQ(r.mapped.split_by_mtrr, 1u);
    EXPECT_EQ(t.at(PhysAddr(0x1'4000'0000)).page_size, mm::PageSize::k2MiB);
    EXPECT_EQ(t.at(PhysAddr(0x1'6000'0000)).page_size, mm::PageSize::k2MiB);
    EXPECT_EQ(t.at(PhysAddr(0x1'8000'0000)).page_size, mm::PageSize::k1GiB);
    EXPECT_EQ(r.mapped.bytes_mapped(), ranges.ram_bytes());
}

TEST(PhysWindow, AnMtrrBoundaryInsideA2MiBPageSplitsItInto4KiBPages) {
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(q35_like().view()).ok());
    // One UC page at 4 GiB + 2 MiB + 4 KiB: its gigabyte and its 2 MiB block both split.
    const mm::MtrrState mtrrs = mtrrs_with_uc({{0x1'0020'1000, 4 * KiB}});
    Tables t;
    const mm::MapResult r = mm::map_phys_offset_regions(t.builder, ranges, mm::FrameExceptions{}, {true, true, &mtrrs});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.mapped.pages_1g, 1u + 2u);
    EXPECT_EQ(r.mapped.pages_2m, 511u + 511u);
    EXPECT_EQ(r.mapped.pages_4k, 160u + 256u + 512u);
    EXPECT_EQ(r.mapped.split_by_mtrr, 2u);
    EXPECT_EQ(t.at(PhysAddr(0x1'0020'1000)).page_size, mm::PageSize::k4KiB);
    EXPECT_EQ(t.at(PhysAddr(0x1'0040'0000)).page_size, mm::PageSize::k2MiB);
    // Without 1 GiB pages only the 2 MiB block splits.
    Tables t2(/*cpu_has_1gib_pages=*/false);
    const mm::MapResult r2 = mm::map_phys_offset_regions(t2.builder, ranges, mm::FrameExceptions{}, {true, false, &mtrrs});
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(r2.mapped.split_by_mtrr, 1u);
    EXPECT_EQ(r2.mapped.pages_4k, 160u + 256u + 512u);
}

TEST(PhysWindow, OvmfsMtrrsSplitNothingInRam) {
    // OVMF's UC ranges start where RAM below 4 GiB ends: the window's pages are as without MTRRs.
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(q35_like().view()).ok());
    const mm::MtrrState mtrrs = mtrrs_with_uc({{0x8000'0000, 2 * GiB}, {0xE0'0000'0000, 128 * GiB}});
    Tables with, without;
    const mm::MapResult a = mm::map_phys_offset_regions(with.builder, ranges, mm::FrameExceptions{}, {true, true, &mtrrs});
    const mm::MapResult b = mm::map_phys_offset_regions(without.builder, ranges, mm::FrameExceptions{}, {true, true});
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a.mapped, b.mapped);
    EXPECT_EQ(a.mapped.split_by_mtrr, 0u);
}

TEST(PhysWindow, ReservedAndUncachedFirmwareMemoryStayOut) {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x10'0000, 0x3FF00)                        // 1 MiB .. 1 GiB
        .add(EfiMemoryType::kReserved, 0x4000'0000, 0x80)                            // WB, but reserved
        .add(EfiMemoryType::kConventional, 0x4008'0000, 0x3FF80 - 0x100)
        .add(EfiMemoryType::kAcpiNvs, 0x7FF0'0000, 0x100, boot::kEfiMemoryUc)       // NVS the firmware keeps UC
        .add(EfiMemoryType::kUnusable, 0x8000'0000, 0x40000)                         // bad DRAM, 1 GiB
        .add(EfiMemoryType::kPersistent, 0xC000'0000, 0x40000)                       // NVDIMM, 1 GiB
        .add(EfiMemoryType::kConventional, 0x1'0000'0000, 0x40000);
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    Tables t;
    const mm::MapResult r = mm::map_phys_offset_regions(t.builder, ranges, mm::FrameExceptions{}, {true, true});
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(t.at(PhysAddr(0x4000'0000)).present);
    EXPECT_FALSE(t.at(PhysAddr(0x7FF0'0000)).present);
    EXPECT_FALSE(t.at(PhysAddr(0x8000'0000)).present);
    EXPECT_FALSE(t.at(PhysAddr(0xC000'0000)).present);
    EXPECT_TRUE(t.at(PhysAddr(0x4008'0000)).present);
    EXPECT_EQ(t.at(PhysAddr(0x1'0000'0000)).page_size, mm::PageSize::k1GiB);
    EXPECT_EQ(r.mapped.bytes_mapped(), ranges.ram_bytes());
    EXPECT_EQ(ranges.ram_bytes(), GiB - MiB + (GiB - 0x8'0000 - MiB) + GiB);
}

TEST(PhysWindow, EndsWhereItsRegionEndsAndRefusesRamBeyondByName) {
    const uint64_t end = mm::layout::kPhysWindowSize;  // 64 TiB
    FakeMemoryMap fits;
    fits.add(EfiMemoryType::kConventional, end - 4 * MiB, 0x400);  // ends exactly at 64 TiB
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(fits.view()).ok());
    Tables t;
    ASSERT_TRUE(mm::map_phys_offset_regions(t.builder, ranges, mm::FrameExceptions{}, {true, true}).ok());
    EXPECT_TRUE(t.at(PhysAddr(end - kPageSize)).present);

    FakeMemoryMap beyond;
    beyond.add(EfiMemoryType::kConventional, 0x10'0000, 0x100)
        .add(EfiMemoryType::kConventional, end - 2 * MiB, 0x400);  // starts inside, ends 2 MiB past
    ASSERT_TRUE(ranges.build(beyond.view()).ok());
    Tables t2;
    g_log.clear();
    klog::set_sink(capture);
    const mm::MapResult r = mm::map_phys_offset_regions(t2.builder, ranges, mm::FrameExceptions{}, {true, true});
    klog::set_sink(nullptr);
    EXPECT_EQ(r.status, mm::MapStatus::kOutsideRegion);
    EXPECT_EQ(r.where, mm::layout::kMmioWindowBase);  // where the next region begins
    EXPECT_FALSE(t2.at(PhysAddr(end - 2 * MiB)).present);  // nothing of the run is mapped
    EXPECT_EQ(g_log,
              "[INFO  paging] window run start=0x100000 end=0x200000 va=0xffff800000100000 bytes=1MiB pages-4k=256 "
              "pages-2m=0 pages-1g=0 tables=3\n"
              "[ERROR paging] map rejected phase=map_phys_offset_regions what=ram va=0xffffbfffffe00000 "
              "pa=0x3fffffe00000 size=4MiB at=0xffffc00000000000 region=phys-window "
              "rule=\"must end inside its region of the virtual address space\"\n");
}

// Chapter 08's library: checking a remapped buffer, and removing the lower half.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "fake_physical_memory.h"
#include "mm/handoff_remap.h"
#include "mm/identity_map.h"
#include "mm/lower_half.h"
#include "memory_map_builder.h"
#include "mm/page_table_lookup.h"
#include "mm/phys_window.h"

using boot::EfiMemoryType;
using mm::PhysAddr;
using mm::RangeKind;

namespace {

mm::MemoryRangeList ranges_of(const FakeMemoryMap& map) {
    mm::MemoryRangeList ranges;
    EXPECT_TRUE(ranges.build(map.view()).ok());
    return ranges;
}

FakeMemoryMap machine() {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x100000, 0x100)
        .add(EfiMemoryType::kBootHandoff, 0x200000, 3)
        .add(EfiMemoryType::kConventional, 0x203000, 0x100);
    return map;
}

}  // namespace

TEST(RemappedBuffer, AcceptsTheSameBytesInTheirOwnRegion) {
    const mm::MemoryRangeList ranges = ranges_of(machine());
    std::vector<uint8_t> old_view(408, 0x5A), new_view(408, 0x5A);
    const mm::RemapRequest request{"handoff", PhysAddr(0x202000), 408, RangeKind::kBootHandoff, old_view.data(),
                                   new_view.data()};
    EXPECT_TRUE(mm::check_remapped_buffer(request, ranges).ok());
}

TEST(RemappedBuffer, NamesEachBrokenRule) {
    const mm::MemoryRangeList ranges = ranges_of(machine());
    std::vector<uint8_t> old_view(0x3001, 1), new_view(0x3001, 1);  // one byte more than the region
    mm::RemapRequest r{"memory-map", PhysAddr(0x200000), 0x3000, RangeKind::kBootHandoff, old_view.data(),
                       new_view.data()};
    ASSERT_TRUE(mm::check_remapped_buffer(r, ranges).ok());

    mm::RemapRequest too_big = r;
    too_big.size = 2 * MiB;
    EXPECT_STREQ(mm::check_remapped_buffer(too_big, ranges).field, "size");

    mm::RemapRequest past_region = r;
    past_region.size = 0x3001;  // one byte into free memory
    EXPECT_STREQ(mm::check_remapped_buffer(past_region, ranges).field, "pa");

    mm::RemapRequest wrong_kind = r;
    wrong_kind.pa = PhysAddr(0x100000);
    EXPECT_STREQ(mm::check_remapped_buffer(wrong_kind, ranges).field, "pa");

    mm::RemapRequest misaligned = r;
    misaligned.pa = PhysAddr(0x200004);
    EXPECT_STREQ(mm::check_remapped_buffer(misaligned, ranges).field, "pa");

    new_view[0x1234] = 2;
    const Violation v = mm::check_remapped_buffer(r, ranges);
    EXPECT_STREQ(v.field, "contents");
    EXPECT_EQ(v.value, 0x1234u);
}

TEST(LowerHalf, RemovalClearsTheIdentityMapAndReleasesEveryTableBelowIt) {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x0, 0x800)  // 8 MiB: 4 KiB pages at the bottom, then 2 MiB
        .add(EfiMemoryType::kConventional, 0x4000'0000, 0x40000);  // 1 GiB at 1 GiB: one large page
    const mm::MemoryRangeList ranges = ranges_of(map);
    FakePhysicalMemory memory(PhysAddr(0x7000'0000), 64);
    FakeFrameSource frames(memory);
    mm::PageTableBuilder builder(mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, /*cpu_has_1gib_pages=*/true);
    ASSERT_TRUE(mm::identity_map_low_memory(builder, ranges, mm::FrameExceptions{}, {true, true}).ok());
    ASSERT_TRUE(mm::map_phys_offset_regions(builder, ranges, mm::FrameExceptions{}, {true, true}).ok());
    ASSERT_FALSE(mm::lower_half_is_empty(builder.root(), memory));

    const mm::ReleasedTables released = mm::remove_lower_half(builder.root(), memory);
    EXPECT_EQ(released.pml4_entries, 1u);
    EXPECT_EQ(released.count, 3u);  // the identity map's PDPT, PD and PT (the 1 GiB page is a leaf)
    EXPECT_EQ(released.count, builder.stats().tables_created - 2u);  // the window keeps its PDPT and PD (2 MiB pages from 0)
    EXPECT_TRUE(mm::lower_half_is_empty(builder.root(), memory));
    EXPECT_FALSE(mm::translate(builder.root(), memory, mm::VirtAddr(0x1000)).present);
    EXPECT_FALSE(mm::translate(builder.root(), memory, mm::VirtAddr(0x4000'0000)).present);
    // The window is untouched.
    EXPECT_TRUE(mm::translate(builder.root(), memory, mm::phys_to_virt(PhysAddr(0x1000))).present);
    EXPECT_TRUE(mm::translate(builder.root(), memory, mm::phys_to_virt(PhysAddr(0x4000'0000))).present);
    for (PhysAddr frame : released) EXPECT_TRUE(memory.contains(frame));
}

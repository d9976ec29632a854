// Chapter 03's library: ReservedPool and BootFrameAllocator.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "memory_map_builder.h"
#include "mm/reserved_pool.h"

using boot::EfiMemoryType;
using mm::BootFrameAllocator;
using mm::MemoryRange;
using mm::PhysAddr;
using mm::RangeKind;

namespace {

constexpr size_t kReserve = BootFrameAllocator::kPageTableReserve;

std::vector<PhysAddr> drain(BootFrameAllocator& frames) {
    std::vector<PhysAddr> out;
    for (mm::FrameResult r = frames.alloc_frame(); r.ok(); r = frames.alloc_frame()) out.push_back(r.frame());
    return out;
}

}  // namespace

TEST(ReservedPool, PushPopFullEmptyAndLen) {
    mm::ReservedPool<3> pool;
    EXPECT_TRUE(pool.is_empty());
    EXPECT_FALSE(pool.pop().ok());  // empty: a result, not a null frame
    EXPECT_TRUE(pool.push(PhysAddr(0x1000)));
    EXPECT_TRUE(pool.push(PhysAddr(0x2000)));
    EXPECT_TRUE(pool.push(PhysAddr(0x3000)));
    EXPECT_TRUE(pool.is_full());
    EXPECT_FALSE(pool.push(PhysAddr(0x4000)));
    EXPECT_EQ(pool.len(), 3u);
    EXPECT_TRUE(pool.contains(PhysAddr(0x2000)));
    EXPECT_EQ(pool.pop().frame(), PhysAddr(0x3000));
    EXPECT_EQ(pool.len(), 2u);
    EXPECT_TRUE(pool.push(PhysAddr(0x5000)));  // refill after use
    EXPECT_TRUE(pool.is_full());
}

TEST(ReservedPoolDeathTest, RefusesAMisalignedFrame) {
    mm::ReservedPool<2> pool;
    EXPECT_DEATH((void)pool.push(PhysAddr(0x1234)), "is_aligned");
}

TEST(FrameResult, AFailedResultHasNoFrame) {
    const mm::FrameResult none = mm::FrameResult::out_of_memory();
    EXPECT_FALSE(none.ok());
    EXPECT_DEATH((void)none.frame(), "ok_");
}

TEST(BootFrameAllocator, HandsOutOnlyUsableFramesAbove1MiB) {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x0, 0x200)  // 0 .. 2 MiB: only 1 MiB .. 2 MiB may be used
        .add(EfiMemoryType::kKernelImage, 0x200000, 0x10)
        .add(EfiMemoryType::kBootHandoff, 0x210000, 0x2)
        .add(EfiMemoryType::kBootPageTables, 0x212000, 0x4)
        .add(EfiMemoryType::kBootStack, 0x216000, 0x10)
        .add(EfiMemoryType::kAcpiReclaim, 0x226000, 0x10)
        .add(EfiMemoryType::kBootServicesData, 0x236000, 0x10);
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    BootFrameAllocator frames;
    frames.init(ranges);
    EXPECT_EQ(frames.region_count(), 2u);
    EXPECT_EQ(frames.reserve_len(), kReserve);

    std::vector<PhysAddr> got = drain(frames);
    EXPECT_EQ(got.size() + kReserve, 0x100u + 0x10u);
    std::set<uint64_t> unique;
    for (PhysAddr f : got) {
        unique.insert(f.value());
        EXPECT_GE(f, PhysAddr(0x100000));
        EXPECT_TRUE(f.is_aligned(kPageSize));
        const mm::MemoryRange* r = ranges.find(f);
        ASSERT_NE(r, nullptr);
        EXPECT_EQ(r->kind, RangeKind::kUsable) << std::hex << f.value();
        EXPECT_TRUE(frames.was_handed_out(f));
    }
    EXPECT_EQ(unique.size(), got.size());
    EXPECT_FALSE(frames.was_handed_out(PhysAddr(0x200000)));  // kernel image
}

TEST(BootFrameAllocator, ExhaustionIsAResultAndTheReserveOutlivesIt) {
    const MemoryRange usable[] = {{PhysAddr(0x100000), PhysAddr(0x100000 + 40 * kPageSize), RangeKind::kUsable}};
    BootFrameAllocator frames;
    frames.init(usable, 1);
    EXPECT_EQ(frames.page_table_frames_available(), 40u);
    EXPECT_EQ(drain(frames).size(), 40u - kReserve);
    EXPECT_FALSE(frames.alloc_frame().ok());
    EXPECT_FALSE(frames.alloc_frame().ok());  // stays exhausted
    EXPECT_EQ(frames.page_table_frames_available(), kReserve);
    for (size_t i = 0; i < kReserve; ++i) EXPECT_TRUE(frames.alloc_page_table_frame().ok()) << i;
    EXPECT_FALSE(frames.alloc_page_table_frame().ok());
    EXPECT_FALSE(frames.refill_reserve());
    EXPECT_EQ(frames.frames_handed_out(), 40u);
    EXPECT_EQ(frames.frames_remaining(), 0u);
}

TEST(BootFrameAllocator, PageTablesComeFromTheReserveFirstAndRefillTopsItUp) {
    const MemoryRange usable[] = {{PhysAddr(0x100000), PhysAddr(0x200000), RangeKind::kUsable}};
    BootFrameAllocator frames;
    frames.init(usable, 1);
    const uint64_t remaining = frames.frames_remaining();
    const PhysAddr table = frames.alloc_page_table_frame().frame();
    EXPECT_LT(table, PhysAddr(0x100000 + kReserve * kPageSize));  // one of the reserved frames
    EXPECT_EQ(frames.reserve_len(), kReserve - 1);
    EXPECT_EQ(frames.frames_remaining(), remaining);  // general memory untouched
    EXPECT_TRUE(frames.refill_reserve());
    EXPECT_EQ(frames.reserve_len(), kReserve);
    EXPECT_EQ(frames.frames_remaining(), remaining - 1);
}

TEST(BootFrameAllocator, TrimsRegionsThatAreNotPageAligned) {
    const MemoryRange ranges[] = {
        {PhysAddr(0x100800), PhysAddr(0x120400), RangeKind::kUsable},  // -> 0x101000 .. 0x120000
        {PhysAddr(0x130100), PhysAddr(0x130f00), RangeKind::kUsable},  // no whole page inside
        {PhysAddr(0x0), PhysAddr(0xFF000), RangeKind::kUsable},        // all below 1 MiB
    };
    BootFrameAllocator frames;
    frames.init(ranges, 1);
    ASSERT_EQ(frames.region_count(), 1u);
    EXPECT_EQ(frames.region(0).start, PhysAddr(0x101000));
    EXPECT_EQ(frames.region(0).end, PhysAddr(0x120000));
    EXPECT_EQ(frames.trimmed_bytes(), 0x800u + 0x400u);
    frames.init(ranges, 2);
    EXPECT_EQ(frames.region_count(), 1u);
    EXPECT_EQ(frames.trimmed_bytes(), 0x800u + 0x400u + 0xE00u);
    for (PhysAddr f : drain(frames)) {
        EXPECT_TRUE(f.is_aligned(kPageSize));
        EXPECT_LT(f + (kPageSize - 1), PhysAddr(0x120000));
    }
}

TEST(BootFrameAllocator, AMapWithNoUsableMemoryGivesNothing) {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x0, 0x100)  // below 1 MiB only
        .add(EfiMemoryType::kAcpiNvs, 0x100000, 0x100)
        .add(EfiMemoryType::kKernelImage, 0x200000, 0x10);
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    BootFrameAllocator frames;
    frames.init(ranges);
    EXPECT_EQ(frames.region_count(), 0u);
    EXPECT_EQ(frames.reserve_len(), 0u);
    EXPECT_EQ(frames.page_table_frames_available(), 0u);
    EXPECT_FALSE(frames.alloc_frame().ok());
    EXPECT_FALSE(frames.alloc_page_table_frame().ok());
    EXPECT_FALSE(frames.refill_reserve());
}

TEST(BootFrameAllocator, WalksRegionsInAddressOrderAcrossGaps) {
    const MemoryRange ranges[] = {
        {PhysAddr(0x100000), PhysAddr(0x100000 + (kReserve + 1) * kPageSize), RangeKind::kUsable},
        {PhysAddr(0x400000), PhysAddr(0x402000), RangeKind::kAcpiNvs},
        {PhysAddr(0x800000), PhysAddr(0x802000), RangeKind::kUsable},
    };
    BootFrameAllocator frames;
    frames.init(ranges, 3);
    const std::vector<PhysAddr> got = drain(frames);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], PhysAddr(0x100000 + kReserve * kPageSize));
    EXPECT_EQ(got[1], PhysAddr(0x800000));
    EXPECT_EQ(got[2], PhysAddr(0x801000));
    EXPECT_EQ(frames.region(1).frames_handed_out(), 2u);
}

TEST(BootFrameAllocator, ReturnedPageTableFramesRefillTheReserveUntilFull) {
    const MemoryRange usable[] = {{PhysAddr(0x100000), PhysAddr(0x200000), RangeKind::kUsable}};
    BootFrameAllocator frames;
    frames.init(usable, 1);
    const PhysAddr a = frames.alloc_page_table_frame().frame();
    const PhysAddr b = frames.alloc_page_table_frame().frame();
    EXPECT_EQ(frames.reserve_len(), kReserve - 2);
    EXPECT_TRUE(frames.return_page_table_frame(a));
    EXPECT_TRUE(frames.return_page_table_frame(b));
    EXPECT_EQ(frames.reserve_len(), kReserve);
    const PhysAddr general = frames.alloc_frame().frame();
    EXPECT_FALSE(frames.return_page_table_frame(general));  // the reserve is full
    EXPECT_DEATH((void)frames.return_page_table_frame(PhysAddr(0x300000)), "was_handed_out");
}

// The framebuffer in usable RAM (memory_map_builder.h): set aside in the range
// list before the allocator starts, so not one of its frames is ever handed out,
// from the first allocation on, page tables and the reserve included.
TEST(BootFrameAllocator, NeverHandsOutAFramebufferFrameTheMapCalledUsable) {
    namespace fb = framebuffer_in_ram;
    const FakeMemoryMap map = fb::map();
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    ASSERT_TRUE(mm::set_aside_framebuffer(fb::handoff(map), &ranges).ok());
    BootFrameAllocator frames;
    frames.init(ranges);
    std::vector<PhysAddr> all;
    for (size_t i = 0; i < kReserve; ++i) all.push_back(frames.alloc_page_table_frame().frame());
    for (const PhysAddr f : drain(frames)) all.push_back(f);
    for (mm::FrameResult r = frames.alloc_page_table_frame(); r.ok(); r = frames.alloc_page_table_frame())
        all.push_back(r.frame());
    for (const PhysAddr f : all)
        EXPECT_FALSE(PhysAddr(fb::kFirstFrame) <= f && f < PhysAddr(fb::kEnd)) << std::hex << f.value();
    // Everything else of [1 MiB, 16 MiB) was handed out: the set-aside frames, and only they, are missing.
    EXPECT_EQ(all.size(), (fb::kRamEnd - 0x10'0000 - (fb::kEnd - fb::kFirstFrame)) / 4096);
    EXPECT_EQ(std::set<PhysAddr>(all.begin(), all.end()).size(), all.size());
}

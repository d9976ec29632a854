// The one RAM-run mapper (common/mm/ram_run_mapper.h) and its per-frame
// exceptions, through both phases that use it: the identity map (chapter 04)
// and the phys-offset window (chapter 05), over a fake physical memory.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "boot/uefi_memory.h"
#include "fake_physical_memory.h"
#include "memory_map_builder.h"
#include "mm/boot_memory.h"
#include "mm/identity_map.h"
#include "mm/page_table_lookup.h"
#include "mm/phys_window.h"
#include "mm/ram_run_mapper.h"
#include "support/log.h"

namespace {

using boot::EfiMemoryType;
using mm::FrameExceptions;
using mm::FrameRule;
using mm::PhysAddr;
using mm::VirtAddr;
namespace pte = x86::pte;

std::string g_log;
void capture(klog::Level, const char* text, size_t length) { g_log.append(text, length); }

struct Tables {
    FakePhysicalMemory memory{PhysAddr(0x7000'0000), 64};
    FakeFrameSource frames{memory};
    mm::PageTableBuilder builder{mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, /*cpu_has_1gib_pages=*/true};

    mm::Translation window(uint64_t pa) { return mm::translate(builder.root(), memory, mm::phys_to_virt(PhysAddr(pa))); }
    mm::Translation identity(uint64_t pa) { return mm::translate(builder.root(), memory, VirtAddr(pa)); }
};

// RAM [1 MiB, 2 GiB): one run.
mm::MemoryRangeList one_run() {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x10'0000, 0x7'FF00);
    mm::MemoryRangeList ranges;
    EXPECT_TRUE(ranges.build(map.view()).ok());
    return ranges;
}

// The kernel's text and rodata at 16 MiB (4 pages), the framebuffer 4 MiB at 1 GiB.
constexpr uint64_t kImage = 0x100'0000, kImageEnd = kImage + 0x4000;
constexpr uint64_t kFb = 0x4000'0000, kFbEnd = kFb + 4 * MiB;

FrameExceptions image_and_framebuffer() {
    FrameExceptions e;
    EXPECT_TRUE(e.add(PhysAddr(kFb), kFbEnd - kFb, FrameRule::kLeftOut, "framebuffer").ok());
    EXPECT_TRUE(e.add(PhysAddr(kImage), kImageEnd - kImage, FrameRule::kReadOnly, "kernel-image").ok());
    return e;
}

}  // namespace

TEST(FrameExceptions, KeptSortedWidenedToPagesAndRefusedByNameWhenTheyOverlap) {
    FrameExceptions e;
    ASSERT_TRUE(e.add(PhysAddr(0x5000), 0x10, FrameRule::kLeftOut, "b").ok());  // one byte into a page: the page
    ASSERT_TRUE(e.add(PhysAddr(0x1800), 0x1000, FrameRule::kReadOnly, "a").ok());  // straddles two pages
    ASSERT_EQ(e.count(), 2u);
    EXPECT_EQ(e[0].start, PhysAddr(0x1000));
    EXPECT_EQ(e[0].end, PhysAddr(0x3000));
    EXPECT_EQ(e[1].start, PhysAddr(0x5000));
    EXPECT_EQ(e[1].end, PhysAddr(0x6000));
    const Violation overlap = e.add(PhysAddr(0x2000), 0x4000, FrameRule::kLeftOut, "c");
    EXPECT_FALSE(overlap.ok());
    EXPECT_STREQ(overlap.field, "exception.start");
    EXPECT_STREQ(overlap.rule, "must not overlap another exception (one rule per frame)");
    EXPECT_FALSE(e.add(PhysAddr(0x4000), 0x1001, FrameRule::kLeftOut, "d").ok());  // reaches into b's page
    EXPECT_TRUE(e.add(PhysAddr(0x3000), 0x2000, FrameRule::kLeftOut, "between").ok());  // touching is fine
    EXPECT_STREQ(e.add(PhysAddr(0x9000), 0, FrameRule::kLeftOut, "e").field, "exception.size");
    EXPECT_STREQ(e.add(PhysAddr(~0ull - 0xFFF), 0x2000, FrameRule::kLeftOut, "f").field, "exception.start");
    EXPECT_TRUE(e.add(PhysAddr(0x10'0000), 0x1000, FrameRule::kLeftOut, "fourth").ok());
    const Violation full = e.add(PhysAddr(0x20'0000), 0x1000, FrameRule::kLeftOut, "fifth");
    EXPECT_STREQ(full.field, "exception.count");
    EXPECT_EQ(e.count(), 4u);
}

TEST(FrameExceptions, TheKernelsAreItsTextAndRodataReadOnly) {
    using namespace mm::kernel_image_example;
    FrameExceptions e;
    ASSERT_TRUE(mm::kernel_frame_exceptions(kLayout, kPlacement, &e).ok());
    // Text (3 pages) and rodata (1 page) from the image's physical base; data and stack stay writable.
    // The framebuffer is not among them: the range list sets it aside as not RAM (memory_map_test.cpp).
    ASSERT_EQ(e.count(), 1u);
    EXPECT_EQ(e[0].start, PhysAddr(0x100'0000));
    EXPECT_EQ(e[0].end, PhysAddr(0x100'4000));
    EXPECT_EQ(e[0].rule, FrameRule::kReadOnly);
    EXPECT_STREQ(e[0].what, "kernel-image");
}

TEST(RamRunMapper, PiecesCoverTheRunInOrderCutAtEachException) {
    const FrameExceptions e = image_and_framebuffer();
    std::vector<std::tuple<uint64_t, uint64_t, std::string>> pieces;
    ASSERT_TRUE(mm::for_each_ram_piece(PhysAddr(0x10'0000), PhysAddr(2 * GiB), e, [&](const mm::RamPiece& p) {
        pieces.emplace_back(p.start.value(), p.end.value(), p.exception ? p.exception->what : "ram");
        return true;
    }));
    const std::vector<std::tuple<uint64_t, uint64_t, std::string>> expected = {
        {0x10'0000, kImage, "ram"}, {kImage, kImageEnd, "kernel-image"}, {kImageEnd, kFb, "ram"},
        {kFb, kFbEnd, "framebuffer"}, {kFbEnd, 2 * GiB, "ram"}};
    EXPECT_EQ(pieces, expected);
    // An exception reaching past a run's end is cut at the run's end.
    pieces.clear();
    ASSERT_TRUE(mm::for_each_ram_piece(PhysAddr(kFb + MiB), PhysAddr(kFb + 2 * MiB), e, [&](const mm::RamPiece& p) {
        pieces.emplace_back(p.start.value(), p.end.value(), p.exception ? p.exception->what : "ram");
        return true;
    }));
    EXPECT_EQ(pieces, (std::vector<std::tuple<uint64_t, uint64_t, std::string>>{
                          {kFb + MiB, kFb + 2 * MiB, "framebuffer"}}));
}

TEST(RamRunMapper, TheWindowKeepsTheImageReadOnlyAndLeavesTheFramebufferOut) {
    const mm::MemoryRangeList ranges = one_run();
    Tables t;
    g_log.clear();
    klog::set_sink(capture);
    const mm::MapResult r = mm::map_phys_offset_regions(t.builder, ranges, image_and_framebuffer(), {true, true});
    klog::set_sink(nullptr);
    ASSERT_TRUE(r.ok());
    // The image's frames: mapped, read-only, NX, in 4 KiB pages; the page after them writable again.
    for (uint64_t pa = kImage; pa < kImageEnd; pa += 4 * KiB) {
        const mm::Translation at = t.window(pa);
        ASSERT_TRUE(at.present) << std::hex << pa;
        EXPECT_EQ(at.flags, mm::leaf_flags::kKernelRodata) << std::hex << pa;
        EXPECT_EQ(at.page_size, mm::PageSize::k4KiB);
    }
    EXPECT_EQ(t.window(kImageEnd).flags, mm::leaf_flags::kPhysWindow);
    EXPECT_EQ(t.window(kImage - 4 * KiB).flags & ~pte::kHugePage, mm::leaf_flags::kPhysWindow);  // 2 MiB
    // The framebuffer: not one frame mapped; the RAM after it in 2 MiB pages again.
    for (uint64_t pa = kFb; pa < kFbEnd; pa += 4 * KiB) EXPECT_FALSE(t.window(pa).present) << std::hex << pa;
    EXPECT_EQ(t.window(kFbEnd).page_size, mm::PageSize::k2MiB);
    // Large pages split only where an exception begins or ends:
    //   [1M, 2M) 256 x 4K, [2M, 16M) 7 x 2M; the image 4 x 4K; [16M+16K, 18M) 508 x 4K, [18M, 1G) 503 x 2M;
    //   [1G+4M, 2G) 510 x 2M (the 1 GiB page there is gone: the framebuffer is in it).
    EXPECT_EQ(r.mapped.pages_4k, 256u + 4u + 508u);
    EXPECT_EQ(r.mapped.pages_2m, 7u + 503u + 510u);
    EXPECT_EQ(r.mapped.pages_1g, 0u);
    EXPECT_EQ(r.mapped.bytes_mapped(), ranges.ram_bytes() - (kFbEnd - kFb));
    // The log names each exception; one line for the run, as without them.
    EXPECT_NE(g_log.find("[INFO  paging] read-only phase=map_phys_offset_regions what=kernel-image start=0x1000000 "
                         "end=0x1004000 va=0xffff800001000000\n"),
              std::string::npos)
        << g_log;
    EXPECT_NE(g_log.find("[INFO  paging] left-out phase=map_phys_offset_regions what=framebuffer start=0x40000000 "
                         "end=0x40400000\n"),
              std::string::npos)
        << g_log;
    EXPECT_NE(g_log.find("[INFO  paging] window run start=0x100000 end=0x80000000 va=0xffff800000100000 "),
              std::string::npos)
        << g_log;
    EXPECT_NE(g_log.find("runs=1 "), std::string::npos) << g_log;
}

TEST(RamRunMapper, TheIdentityMapKeepsTheSameExceptions) {
    const mm::MemoryRangeList ranges = one_run();
    Tables t;
    g_log.clear();
    klog::set_sink(capture);
    const mm::MapResult r = mm::identity_map_low_memory(t.builder, ranges, image_and_framebuffer(), {true, true});
    klog::set_sink(nullptr);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(t.identity(kImage).flags, mm::leaf_flags::kKernelRodata);
    EXPECT_FALSE(t.identity(kImage).flags & pte::kWritable);
    EXPECT_TRUE(t.identity(kImageEnd).flags & pte::kWritable);
    EXPECT_FALSE(t.identity(kFb).present);
    EXPECT_EQ(r.mapped.pages_4k, 256u + 4u + 508u);
    EXPECT_NE(g_log.find("[INFO  paging] read-only phase=identity_map_low_memory what=kernel-image start=0x1000000 "
                         "end=0x1004000\n"),
              std::string::npos)
        << g_log;
}

TEST(RamRunMapper, ExceptionsOutsideRamChangeNothing) {
    // The usual case on QEMU's VGA: the framebuffer is a PCI BAR, not RAM.
    const mm::MemoryRangeList ranges = one_run();
    FrameExceptions fb_in_bar;
    ASSERT_TRUE(fb_in_bar.add(PhysAddr(0xC000'0000), 4 * MiB, FrameRule::kLeftOut, "framebuffer").ok());
    Tables with, without;
    g_log.clear();
    klog::set_sink(capture);
    const mm::MapResult a = mm::map_phys_offset_regions(with.builder, ranges, fb_in_bar, {true, true});
    klog::set_sink(nullptr);
    const mm::MapResult b = mm::map_phys_offset_regions(without.builder, ranges, FrameExceptions{}, {true, true});
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a.mapped, b.mapped);
    EXPECT_EQ(g_log.find("left-out"), std::string::npos) << g_log;
}

TEST(RamRunMapper, ARefusedPieceStopsThePhaseByName) {
    // The image's frames already mapped in the window: the read-only piece is refused, named.
    const mm::MemoryRangeList ranges = one_run();
    Tables t;
    ASSERT_TRUE(t.builder.map_range(mm::phys_to_virt(PhysAddr(kImage)), PhysAddr(kImage), 4 * KiB,
                                    mm::fit_to_cpu(mm::kKernelDataPolicy, {true, true})).ok());
    g_log.clear();
    klog::set_sink(capture);
    const mm::MapResult r = mm::map_phys_offset_regions(t.builder, ranges, image_and_framebuffer(), {true, true});
    klog::set_sink(nullptr);
    EXPECT_EQ(r.status, mm::MapStatus::kAlreadyMapped);
    EXPECT_NE(g_log.find("[ERROR paging] map rejected phase=map_phys_offset_regions what=ram va=0xffff800001000000 "
                         "pa=0x1000000 size=16KiB"),
              std::string::npos)
        << g_log;
    EXPECT_EQ(g_log.find("phase map_phys_offset_regions"), std::string::npos) << "no phase line after a refusal";
}

// The framebuffer in usable RAM (memory_map_builder.h), set aside by the range
// list: no RAM mapping meets it, with no frame exception at all.
TEST(RamRunMapper, AFramebufferSetAsideInTheRangeListIsInNoRamMapping) {
    namespace fb = framebuffer_in_ram;
    const FakeMemoryMap map = fb::map();
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    ASSERT_TRUE(mm::set_aside_framebuffer(fb::handoff(map), &ranges).ok());
    Tables window, identity;
    ASSERT_TRUE(mm::map_phys_offset_regions(window.builder, ranges, FrameExceptions{}, {true, true}).ok());
    ASSERT_TRUE(mm::identity_map_low_memory(identity.builder, ranges, FrameExceptions{}, {true, true}).ok());
    for (uint64_t pa = fb::kFirstFrame; pa < fb::kEnd; pa += 4 * KiB) {
        EXPECT_FALSE(window.window(pa).present) << std::hex << pa;
        EXPECT_FALSE(identity.identity(pa).present) << std::hex << pa;
    }
    EXPECT_TRUE(window.window(fb::kFirstFrame - 4 * KiB).present);
    EXPECT_TRUE(window.window(fb::kEnd).present);
    EXPECT_TRUE(identity.identity(fb::kEnd).present);
}

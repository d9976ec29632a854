// Chapter 13's pure parts: the region list (UserRegions), what a fault means
// (decide_fault), and unmapping and reprotecting live pages
// (UserAddressSpace::unmap_page / protect_page / next_present), the last over
// a fake physical memory with a recording TLB.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "fake_physical_memory.h"
#include "mm/demand_fault.h"
#include "mm/user_address_space.h"
#include "mm/user_regions.h"

using mm::FaultAction;
using mm::PhysAddr;
using mm::RegionKind;
using mm::RegionStatus;
using mm::UserRegion;
using mm::UserRegions;
using mm::VirtAddr;

namespace {

namespace r = mm::region_rights;
constexpr uint8_t kRW = r::kRead | r::kWrite, kRX = r::kRead | r::kExecute, kR = r::kRead;

UserRegion anonymous(uint64_t start, uint64_t end, uint8_t rights = kRW) {
    return {start, end, rights, RegionKind::kAnonymous};
}

UserRegion stack() {
    return {mm::kUserStackBottom.value(), mm::kUserStackTop.value(), kRW, RegionKind::kStack, 0, 0,
            mm::kUserStackTop.value() - mm::kUserStackMax};
}

// A process as chapter 13 describes it: text, data (file) and a stack.
UserRegion text_region(uint64_t start, uint64_t end, uint64_t file_offset, uint64_t file_bytes) {
    UserRegion r{start, end, kRX, RegionKind::kFile, file_offset, file_bytes};
    r.text = true;
    return r;
}

UserRegions process() {
    UserRegions g;
    EXPECT_EQ(g.add(text_region(0x400000, 0x401000, 0x1000, 0x80)), RegionStatus::kOk);
    EXPECT_EQ(g.add({0x401000, 0x404000, kRW, RegionKind::kFile, 0x2000, 0x10}), RegionStatus::kOk);
    EXPECT_EQ(g.add(stack()), RegionStatus::kOk);
    return g;
}

mm::PageFaultError fault(bool present, bool write, bool fetch = false) {
    mm::PageFaultError e{};
    e.present = present;
    e.write = write;
    e.user = true;
    e.instruction_fetch = fetch;
    return e;
}

}  // namespace

TEST(UserRegions, AddKeepsThemSortedAndRefusesEachBadShape) {
    UserRegions g = process();
    EXPECT_EQ(g.add(anonymous(0x10'0000'0000, 0x10'0000'2000)), RegionStatus::kOk);
    EXPECT_EQ(g.add(anonymous(0x5000'0000, 0x5000'1000)), RegionStatus::kOk);  // between: sorted in
    ASSERT_EQ(g.count(), 5u);
    for (size_t i = 1; i < g.count(); ++i) EXPECT_LT(g[i - 1].end, g[i].start + 1);
    EXPECT_TRUE(g.consistent());

    EXPECT_EQ(g.add(anonymous(0x10'0000'1000, 0x10'0000'3000)), RegionStatus::kOverlaps);
    EXPECT_EQ(g.add(anonymous(0x3F'F000, 0x40'1000)), RegionStatus::kOutsideUser);  // below 4 MiB
    EXPECT_EQ(g.add(anonymous(0x20'0000'0800, 0x20'0000'1000)), RegionStatus::kMisaligned);
    EXPECT_EQ(g.add(anonymous(0x20'0000'1000, 0x20'0000'1000)), RegionStatus::kEmpty);
    EXPECT_EQ(g.add(anonymous(0x20'0000'0000, 0x20'0000'1000, r::kWrite)), RegionStatus::kBadRights);
    EXPECT_EQ(g.add(anonymous(0x20'0000'0000, 0x20'0000'1000, kRW | r::kExecute)), RegionStatus::kBadRights);
    // Executable zeroes would be a frame writable in the kernel's window and executable here.
    EXPECT_EQ(g.add(anonymous(0x20'0000'0000, 0x20'0000'1000, kRX)), RegionStatus::kExecuteNotFile);
    EXPECT_EQ(g.add(anonymous(mm::kUserLimit.value() - 0x1000, mm::kUserLimit.value() + 0x1000)),
              RegionStatus::kOutsideUser);
    // The stack's growth room and its guard gap count as taken.
    const uint64_t guard = mm::kUserStackTop.value() - mm::kUserStackMax - 0x1000;
    EXPECT_EQ(g.add(anonymous(guard, guard + 0x1000)), RegionStatus::kOverlaps);
    EXPECT_EQ(g.count(), 5u);  // nothing refused went in
}

TEST(UserRegions, FullIsRefusedNotOverwritten) {
    UserRegions g;
    for (uint64_t i = 0; i < mm::kMaxUserRegions; ++i)
        ASSERT_EQ(g.add(anonymous(0x10'0000'0000 + i * 0x2000, 0x10'0000'1000 + i * 0x2000)), RegionStatus::kOk);
    EXPECT_EQ(g.add(anonymous(0x20'0000'0000, 0x20'0000'1000)), RegionStatus::kFull);
    // A munmap that cuts one region in two needs a slot it does not have.
    UserRegions h;
    for (uint64_t i = 0; i < mm::kMaxUserRegions; ++i)
        ASSERT_EQ(h.add(anonymous(0x10'0000'0000 + i * 0x4000, 0x10'0000'3000 + i * 0x4000)), RegionStatus::kOk);
    EXPECT_EQ(h.remove(0x10'0000'1000, 0x10'0000'2000), RegionStatus::kFull);
    EXPECT_TRUE(h.consistent());
}

TEST(UserRegions, RemoveSplitsAndAllowsUnmappedRanges) {
    UserRegions g = process();
    ASSERT_EQ(g.add(anonymous(0x10'0000'0000, 0x10'0000'8000)), RegionStatus::kOk);
    EXPECT_EQ(g.remove(0x10'0000'2000, 0x10'0000'4000), RegionStatus::kOk);
    ASSERT_NE(g.find(0x10'0000'1000), nullptr);
    EXPECT_EQ(g.find(0x10'0000'1000)->end, 0x10'0000'2000u);
    EXPECT_EQ(g.find(0x10'0000'2000), nullptr);
    EXPECT_EQ(g.find(0x10'0000'4000)->start, 0x10'0000'4000u);
    EXPECT_EQ(g.remove(0x10'0000'2000, 0x10'0000'4000), RegionStatus::kOk);  // nothing there: POSIX says fine
    EXPECT_EQ(g.remove(0x7000'0000, 0x7000'1000), RegionStatus::kOk);
    EXPECT_EQ(g.remove(mm::kUserStackTop.value() - 0x1000, mm::kUserStackTop.value()), RegionStatus::kStackRange);
    EXPECT_TRUE(g.consistent());
}

TEST(UserRegions, SplittingAFileRegionMovesItsOffset) {
    UserRegions g = process();  // data: file offset 0x2000, 0x10 bytes from 0x401000
    ASSERT_EQ(g.remove(0x401000, 0x402000), RegionStatus::kOk);
    const UserRegion* rest = g.find(0x402000);
    ASSERT_NE(rest, nullptr);
    EXPECT_EQ(rest->file_offset, 0x3000u);
    EXPECT_EQ(rest->file_bytes, 0u);  // the 16 file bytes were on the page that went
}

TEST(UserRegions, ProtectNeedsEveryPageAndKeepsFilesUnwritable) {
    UserRegions g = process();
    ASSERT_EQ(g.add(anonymous(0x10'0000'0000, 0x10'0000'4000)), RegionStatus::kOk);
    EXPECT_EQ(g.protect(0x10'0000'1000, 0x10'0000'2000, kR), RegionStatus::kOk);
    EXPECT_EQ(g.find(0x10'0000'0000)->rights, kRW);
    EXPECT_EQ(g.find(0x10'0000'1000)->rights, kR);
    EXPECT_EQ(g.find(0x10'0000'2000)->rights, kRW);
    EXPECT_EQ(g.protect(0x10'0000'3000, 0x10'0000'5000, kR), RegionStatus::kNotCovered);
    EXPECT_EQ(g.protect(0x400000, 0x401000, kRW), RegionStatus::kFileWritable);
    EXPECT_EQ(g.protect(0x400000, 0x401000, kR), RegionStatus::kOk);  // less is fine
    EXPECT_EQ(g.protect(0x10'0000'0000, 0x10'0000'1000, kRX), RegionStatus::kExecuteNotFile);
    EXPECT_EQ(g.protect(0x10'0000'0000, 0x10'0000'1000, kRW | r::kExecute), RegionStatus::kBadRights);
    EXPECT_EQ(g.protect(0x10'0000'0000, 0x10'0000'1000, r::kWrite), RegionStatus::kBadRights);
    EXPECT_EQ(g.protect(mm::kUserStackBottom.value(), mm::kUserStackTop.value(), kR), RegionStatus::kStackRange);
    EXPECT_TRUE(g.consistent());
}

TEST(UserRegions, FindFreeTakesTheFirstGapFrom64GiB) {
    UserRegions g = process();
    EXPECT_EQ(g.find_free(0x4000'0000), mm::kMmapBase);
    ASSERT_EQ(g.add(anonymous(mm::kMmapBase, mm::kMmapBase + 0x2000)), RegionStatus::kOk);
    ASSERT_EQ(g.add(anonymous(mm::kMmapBase + 0x3000, mm::kMmapBase + 0x4000)), RegionStatus::kOk);
    EXPECT_EQ(g.find_free(0x1000), mm::kMmapBase + 0x2000);  // the hole fits one page
    EXPECT_EQ(g.find_free(0x2000), mm::kMmapBase + 0x4000);
    EXPECT_EQ(g.find_free(0), 0u);
    EXPECT_EQ(g.find_free(uint64_t(1) << 47), 0u);  // never past the stack's room
}

TEST(DecideFault, ServesFirstTouchesByKind) {
    const UserRegions g = process();
    auto d = mm::decide_fault(g, VirtAddr(0x400010), fault(false, false, true));
    EXPECT_EQ(d.action, FaultAction::kFileMap);
    EXPECT_EQ(d.page, 0x400000u);
    EXPECT_EQ(mm::decide_fault(g, VirtAddr(0x402008), fault(false, true)).action, FaultAction::kFileCopy);
    EXPECT_EQ(mm::decide_fault(g, VirtAddr(mm::kUserStackTop.value() - 8), fault(false, true)).action,
              FaultAction::kZeroFill);
}

TEST(DecideFault, GrowsTheStackToItsLimitAndNotBeyond) {
    const UserRegions g = process();
    const uint64_t limit = mm::kUserStackTop.value() - mm::kUserStackMax;
    auto d = mm::decide_fault(g, VirtAddr(limit + 0x10), fault(false, true));
    EXPECT_EQ(d.action, FaultAction::kZeroFill);
    EXPECT_EQ(d.grow_stack_to, limit);
    d = mm::decide_fault(g, VirtAddr(limit - 8), fault(false, true));
    EXPECT_EQ(std::string(d.refusal.rule), "stack-overflow");
    d = mm::decide_fault(g, VirtAddr(limit - mm::kStackGuardGap - 8), fault(false, true));
    EXPECT_EQ(std::string(d.refusal.rule), "no-region");
}

TEST(DecideFault, NamesEveryRefusal) {
    UserRegions g = process();
    ASSERT_EQ(g.add(anonymous(0x10'0000'0000, 0x10'0000'1000, kR)), RegionStatus::kOk);
    auto rule = [&](uint64_t va, mm::PageFaultError e) {
        const mm::FaultDecision d = mm::decide_fault(g, VirtAddr(va), e);
        return d.action == FaultAction::kRefuse ? std::string(d.refusal.rule) : std::string("served");
    };
    EXPECT_EQ(rule(0x10, fault(false, false)), "null-page");
    EXPECT_EQ(rule(0xFFFF'8000'0000'0000, fault(true, false)), "kernel-memory");
    EXPECT_EQ(rule(0x2000'0000'0000, fault(false, false)), "no-region");
    EXPECT_EQ(rule(0x10'0000'0000, fault(false, true)), "write-read-only");   // not there yet: the region says no
    EXPECT_EQ(rule(0x10'0000'0000, fault(true, true)), "write-read-only");    // after mprotect
    EXPECT_EQ(rule(0x402000, fault(false, false, true)), "execute-no-execute");
    EXPECT_EQ(rule(0x402000, fault(true, true)), "present-and-allowed");
    mm::PageFaultError reserved = fault(true, false);
    reserved.reserved_bit = true;
    EXPECT_EQ(rule(0x400000, reserved), "reserved-bit");
    EXPECT_EQ(rule(0x10'0000'0000, fault(false, false)), "served");
    // Only these two are the kernel's: the tables and the regions disagree, and the boot ends.
    EXPECT_TRUE(mm::decide_fault(g, VirtAddr(0x400000), reserved).kernel_bug);
    EXPECT_TRUE(mm::decide_fault(g, VirtAddr(0x402000), fault(true, true)).kernel_bug);
    EXPECT_FALSE(mm::decide_fault(g, VirtAddr(0x402000), fault(false, false, true)).kernel_bug);
    EXPECT_FALSE(mm::decide_fault(g, VirtAddr(0x10), fault(false, false)).kernel_bug);
}

namespace {

constexpr PhysAddr kBase{0x100000};

class RecordingSink final : public mm::FrameSink {
public:
    bool return_frame(PhysAddr frame) override { return returned.insert(frame.value()).second; }
    std::set<uint64_t> returned;
};

class RecordingTlb final : public mm::TlbInvalidator {
public:
    void invalidate_page(VirtAddr page) override { pages.push_back(page.value()); }
    std::vector<uint64_t> pages;
};

PhysAddr kernel_pml4(FakePhysicalMemory& memory, FakeFrameSource& frames) { return kernel_half_table(memory, frames, kBase); }

}  // namespace

// The sparse program in miniature: 4 pages 64 MiB apart in one gigabyte cost
// 4 frames and 4 PTs + 1 PD + 1 PDPT; unmapping them flushes exactly those 4
// pages and gives back every one of those frames, and the PML4 alone is left.
TEST(UserPageChanges, UnmapFreesTheFramesAndTablesTheModelPredicts) {
    FakePhysicalMemory memory(kBase, 64);
    FakeFrameSource frames(memory);
    mm::UserAddressSpace space(memory, frames);
    ASSERT_EQ(space.create(kernel_pml4(memory, frames)), mm::UserMapStatus::kOk);
    std::vector<uint64_t> pages;
    for (uint64_t i = 0; i < 4; ++i) {
        const uint64_t va = 0x10'0000'0000 + i * 64 * MiB;
        pages.push_back(va);
        ASSERT_EQ(space.map_page(VirtAddr(va), frames.alloc_frame().frame(), mm::user_flags::kData), mm::UserMapStatus::kOk);
    }
    EXPECT_EQ(space.pages(), 4u);
    EXPECT_EQ(space.tables(), 1u + 1 + 1 + 4);

    RecordingTlb tlb;
    RecordingSink sink;
    mm::ReleasedFrames freed;
    const VirtAddr end(0x10'4000'0000);
    std::vector<uint64_t> visited;
    for (VirtAddr va = space.next_present(VirtAddr(0x10'0000'0000), end); va < end;
         va = space.next_present(va + kPageSize, end)) {
        visited.push_back(va.value());
        mm::UnmappedPage page;
        space.unmap_page(va, tlb, &page).flush();
        space.release(page, sink, freed);
    }
    EXPECT_EQ(visited, pages);
    EXPECT_EQ(tlb.pages, pages);  // one INVLPG per page that was there, none for the rest
    EXPECT_EQ(freed.pages, 4u);
    EXPECT_EQ(freed.tables, 4u + 1 + 1);
    EXPECT_EQ(space.tables(), 1u);  // the PML4
    EXPECT_EQ(space.pages(), 0u);
    const mm::PageTable& pml4 = *memory.table_at(space.pml4());
    for (unsigned slot = 0; slot < 256; ++slot) EXPECT_FALSE(pml4.entries[slot].present()) << slot;
}

TEST(UserPageChanges, ProtectRewritesOnlyTheLeafAndKeepsABorrowedFrameBorrowed) {
    FakePhysicalMemory memory(kBase, 64);
    FakeFrameSource frames(memory);
    mm::UserAddressSpace space(memory, frames);
    ASSERT_EQ(space.create(kernel_pml4(memory, frames)), mm::UserMapStatus::kOk);
    const PhysAddr text = frames.alloc_frame().frame();
    ASSERT_EQ(space.map_page(VirtAddr(0x400000), text, mm::user_flags::kText | mm::user_flags::kBorrowed),
              mm::UserMapStatus::kOk);
    RecordingTlb tlb;
    space.protect_page(VirtAddr(0x400000), mm::user_flags::kRodata, tlb).flush();
    const mm::PageTableEntry* leaf = space.leaf(VirtAddr(0x400000));
    ASSERT_NE(leaf, nullptr);
    EXPECT_EQ(leaf->address(), text);
    EXPECT_TRUE(leaf->no_execute());
    EXPECT_NE(leaf->raw() & mm::user_flags::kBorrowed, 0u);
    EXPECT_EQ(tlb.pages, std::vector<uint64_t>{0x400000});
    RecordingSink sink;
    const mm::ReleasedFrames out = space.destroy(sink);
    EXPECT_EQ(out.borrowed, 1u);
    EXPECT_EQ(sink.returned.count(text.value()), 0u);  // still the module's
}

TEST(UserPageChanges, NextPresentSkipsWholeMissingTables) {
    FakePhysicalMemory memory(kBase, 64);
    FakeFrameSource frames(memory);
    mm::UserAddressSpace space(memory, frames);
    ASSERT_EQ(space.create(kernel_pml4(memory, frames)), mm::UserMapStatus::kOk);
    const uint64_t high = mm::kUserLimit.value() - kPageSize;
    ASSERT_EQ(space.map_page(VirtAddr(high), frames.alloc_frame().frame(), mm::user_flags::kData), mm::UserMapStatus::kOk);
    // 128 TiB, all but one page empty: found at once, not page by page.
    EXPECT_EQ(space.next_present(mm::kUserLowest, mm::kUserLimit).value(), high);
    EXPECT_EQ(space.next_present(VirtAddr(high + kPageSize), mm::kUserLimit), mm::kUserLimit);
}

// Only text may execute, and text is only ever the module's own frames: data,
// bss and anonymous memory are frames the kernel's window maps writable.
TEST(UserRegions, OnlyTextMayBecomeExecutable) {
    UserRegions g = process();
    EXPECT_EQ(g.protect(0x401000, 0x402000, kRX), RegionStatus::kExecuteNotFile);  // data, a file region too
    UserRegion data_as_text{0x500000, 0x501000, kRX, RegionKind::kFile, 0x2000, 0x10};
    EXPECT_EQ(g.add(data_as_text), RegionStatus::kExecuteNotFile);                 // executable but not text
    UserRegion writable_text = text_region(0x600000, 0x601000, 0x1000, 0x80);
    writable_text.rights = kRW;
    EXPECT_EQ(g.add(writable_text), RegionStatus::kBadRights);
    EXPECT_EQ(g.protect(0x400000, 0x401000, mm::region_rights::kRead), RegionStatus::kOk);  // text may drop X
    EXPECT_EQ(g.protect(0x400000, 0x401000, kRX), RegionStatus::kOk);                      // and get it back
}

TEST(DecideFault, TextIsAlwaysTheModulesFrameAndNeverPastTheFile) {
    UserRegions g;
    ASSERT_EQ(g.add(text_region(0x400000, 0x403000, 0x1000, 0x1080)), RegionStatus::kOk);  // two pages of file
    ASSERT_EQ(g.protect(0x400000, 0x403000, mm::region_rights::kRead), RegionStatus::kOk);
    EXPECT_EQ(mm::decide_fault(g, VirtAddr(0x401010), fault(false, false)).action, FaultAction::kFileMap);  // not copied
    const auto past = mm::decide_fault(g, VirtAddr(0x402000), fault(false, false));
    EXPECT_EQ(past.action, FaultAction::kRefuse);
    EXPECT_STREQ(past.refusal.rule, "text-past-file");
}

// A guard page toggled again and again: its region splits and merges back,
// so the table never fills (it has room for kMaxUserRegions).
TEST(UserRegions, TogglingAPagesRightsNeverFillsTheTable) {
    UserRegions g = process();
    ASSERT_EQ(g.add(anonymous(0x10'0000'0000, 0x10'0000'8000)), RegionStatus::kOk);
    const size_t before = g.count();
    for (int round = 0; round < 4 * int(mm::kMaxUserRegions); ++round) {
        ASSERT_EQ(g.protect(0x10'0000'4000, 0x10'0000'5000, mm::region_rights::kRead), RegionStatus::kOk) << round;
        EXPECT_EQ(g.count(), before + 2);
        ASSERT_EQ(g.protect(0x10'0000'4000, 0x10'0000'5000, kRW), RegionStatus::kOk) << round;
        EXPECT_EQ(g.count(), before);
    }
}

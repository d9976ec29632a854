// Chapter 16's processes at five levels, over a fake physical memory: a
// process's PML5 shares the kernel's 256 upper entries and holds the
// program's PML4 in entry 0 (mm/user_address_space.h); the 5-level walk from
// the PML5 finds the program's pages where the 4-level walk from its PML4
// does; destroy() gives back every frame, the PML5 included. And the
// loader's choice of depth from `paging=` (boot/paging_mode.h).
#include <gtest/gtest.h>

#include <set>

#include "boot/paging_mode.h"
#include "fake_physical_memory.h"
#include "mm/page_table_lookup.h"
#include "mm/user_address_space.h"
#include "mm/user_layout.h"

using mm::PagingDepth;
using mm::PhysAddr;
using mm::UserMapStatus;
using mm::VirtAddr;

namespace {

constexpr PhysAddr kBase{0x100000};

class RecordingSink final : public mm::FrameSink {
public:
    bool return_frame(PhysAddr frame) override { return returned.insert(frame.value()).second; }
    std::set<uint64_t> returned;
};

// A kernel PML5 with every upper entry present (as share_kernel_half leaves it at five levels).
PhysAddr kernel_pml5(FakePhysicalMemory& memory, FakeFrameSource& frames) {
    return kernel_half_table(memory, frames, kBase, mm::PageTableLevel::kPml5);
}

}  // namespace

TEST(FiveLevelProcess, APml5OverTheProgramsPml4SharesTheKernelsUpperEntries) {
    FakePhysicalMemory memory(kBase, 64);
    FakeFrameSource frames(memory);
    const PhysAddr kernel = kernel_pml5(memory, frames);
    mm::UserAddressSpace space(memory, frames);
    ASSERT_EQ(space.create(kernel, PagingDepth::kFiveLevel), UserMapStatus::kOk);
    EXPECT_NE(space.root(), space.pml4());
    EXPECT_EQ(space.tables(), 2u);  // the PML5 and the program's PML4
    const mm::PageTable& top = *memory.table_at(space.root());
    const mm::PageTable& theirs = *memory.table_at(kernel);
    EXPECT_EQ(top.entries[0].address(), space.pml4());
    EXPECT_TRUE(top.entries[0].user() && top.entries[0].writable());
    for (unsigned slot = 1; slot < 256; ++slot) EXPECT_FALSE(top.entries[slot].present()) << slot;
    for (unsigned slot = 256; slot < 512; ++slot) EXPECT_EQ(top.entries[slot], theirs.entries[slot]) << slot;
    const mm::PageTable& pml4 = *memory.table_at(space.pml4());
    for (const auto& e : pml4.entries) EXPECT_FALSE(e.present());  // its upper half too: the kernel is in the PML5
}

TEST(FiveLevelProcess, TheFiveLevelWalkFindsWhatTheProgramMapped) {
    FakePhysicalMemory memory(kBase, 64);
    FakeFrameSource frames(memory);
    mm::UserAddressSpace space(memory, frames);
    ASSERT_EQ(space.create(kernel_pml5(memory, frames), PagingDepth::kFiveLevel), UserMapStatus::kOk);
    const PhysAddr frame = frames.alloc_frame().frame();
    const VirtAddr top_page(mm::kUserLimit.value() - kPageSize);
    ASSERT_EQ(space.map_page(top_page, frame, mm::user_flags::kData), UserMapStatus::kOk);
    const mm::Translation deep = mm::translate(space.root(), memory, top_page, PagingDepth::kFiveLevel);
    ASSERT_TRUE(deep.present);
    EXPECT_EQ(deep.pa, frame);
    EXPECT_EQ(mm::translate(space.pml4(), memory, top_page, PagingDepth::kFourLevel).pa, frame);
    // Above 2^47 nothing is the program's, at either depth.
    EXPECT_EQ(space.map_page(VirtAddr(uint64_t(1) << 47), frame, mm::user_flags::kData),
              UserMapStatus::kAtOrAboveUserLimit);
    EXPECT_FALSE(mm::translate(space.root(), memory, VirtAddr(uint64_t(1) << 48), PagingDepth::kFiveLevel).present);
}

TEST(FiveLevelProcess, DestroyReturnsEveryFrameThePml5Included) {
    FakePhysicalMemory memory(kBase, 64);
    FakeFrameSource frames(memory);
    const PhysAddr kernel = kernel_pml5(memory, frames);
    const size_t before = frames.handed_out().size();
    mm::UserAddressSpace space(memory, frames);
    ASSERT_EQ(space.create(kernel, PagingDepth::kFiveLevel), UserMapStatus::kOk);
    ASSERT_EQ(space.map_page(VirtAddr(0x400000), frames.alloc_frame().frame(), mm::user_flags::kRodata), UserMapStatus::kOk);
    ASSERT_EQ(space.map_page(mm::kUserStackBottom, frames.alloc_frame().frame(), mm::user_flags::kData), UserMapStatus::kOk);
    std::set<uint64_t> owned;
    for (size_t i = before; i < frames.handed_out().size(); ++i) owned.insert(frames.handed_out()[i].value());
    RecordingSink sink;
    const mm::ReleasedFrames released = space.destroy(sink);
    EXPECT_EQ(sink.returned, owned);
    EXPECT_FALSE(sink.returned.count(kernel.value()));
    EXPECT_EQ(released.pages, 2u);
    EXPECT_EQ(released.pages + released.tables, owned.size());
    EXPECT_EQ(space.root(), PhysAddr());
}

TEST(PagingChoice, FiveLevelsOnlyWhenAskedForAKernelThatFollowsThemOnACpuWithLa57) {
    const boot::PagingChoice none = boot::choose_paging_levels(false, Str(), true, true);
    EXPECT_EQ(none.asked, 0u);
    EXPECT_EQ(none.levels, 4u);
    const boot::PagingChoice yes = boot::choose_paging_levels(true, "5", true, true);
    EXPECT_EQ(yes.levels, 5u);
    EXPECT_EQ(yes.why, nullptr);
    const boot::PagingChoice no_cpu = boot::choose_paging_levels(true, "5", true, false);
    EXPECT_EQ(no_cpu.levels, 4u);
    EXPECT_STREQ(no_cpu.why, "cpu-has-no-la57");
    const boot::PagingChoice old_kernel = boot::choose_paging_levels(true, "5", false, true);
    EXPECT_EQ(old_kernel.levels, 4u);
    EXPECT_STREQ(old_kernel.why, "kernel-is-4-level");  // the kernel's reason first: no CPU could help it
    EXPECT_STREQ(boot::choose_paging_levels(true, "5", false, false).why, "kernel-is-4-level");
    const boot::PagingChoice four = boot::choose_paging_levels(true, "4", true, true);
    EXPECT_EQ(four.asked, 4u);
    EXPECT_EQ(four.levels, 4u);
    EXPECT_TRUE(four.rejected.empty());
}

TEST(PagingChoice, AValueOtherThanFourOrFiveIsRejectedByName) {
    EXPECT_TRUE(boot::choose_paging_levels(true, "6", true, true).rejected == Str("6"));
    EXPECT_TRUE(boot::choose_paging_levels(true, "", true, true).rejected == Str("(empty)"));
    EXPECT_TRUE(boot::choose_paging_levels(true, "55", true, true).rejected == Str("55"));
}

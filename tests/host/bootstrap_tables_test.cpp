// The loader's bootstrap tables (common/boot/bootstrap_mappings.h) and their
// extent (identity_extent.h), built in fake physical memory and read back
// through mm::translate, the way the CPU would walk them.
#include "boot/bootstrap_mappings.h"
#include "boot/identity_extent.h"

#include <gtest/gtest.h>

#include <string>

#include "fake_physical_memory.h"
#include "memory_map_builder.h"
#include "mm/page_table_lookup.h"

using boot::EfiMemoryType;
using mm::PageSize;
using mm::PhysAddr;
using mm::VirtAddr;
namespace pte = x86::pte;

namespace {

constexpr uint64_t kKernelBase = 0xFFFF'FFFF'8000'1000ull;
constexpr uint64_t kKernelPhys = 0x20'5000;       // not 2 MiB-aligned, as the firmware places it
constexpr uint64_t kTrampoline = 0x3E29'D000;    // the handover trampoline's page, below 4 GiB

// A kernel like chapter 01's: text RX, rodata R, data RW with .bss.
boot::elf::KernelImageLayout kernel_layout() {
    boot::elf::KernelImageLayout layout{};
    layout.entry = kKernelBase;
    layout.virtual_base = kKernelBase;
    layout.span = 0x15000;
    layout.segment_count = 3;
    layout.segments[0] = {kKernelBase, 0x1000, 0x2000, 0x2000, boot::elf::kSegmentReadable | boot::elf::kSegmentExecutable};
    layout.segments[1] = {kKernelBase + 0x2000, 0x3000, 0x1000, 0x1000, boot::elf::kSegmentReadable};
    layout.segments[2] = {kKernelBase + 0x3000, 0x4000, 1, 0x12000,
                          boot::elf::kSegmentReadable | boot::elf::kSegmentWritable};
    return layout;
}

class BootstrapTables : public ::testing::Test {
protected:
    // Table frames live far above anything the plan maps, as a real pool would
    // sit elsewhere in RAM: the fake memory only has to hold the tables.
    FakePhysicalMemory memory_{PhysAddr(0x7000'0000), 64};
    FakeFrameSource frames_{memory_};
    boot::elf::KernelImageLayout layout_ = kernel_layout();
    boot::BootstrapPlan plan_{4 * GiB, kTrampoline, kKernelPhys, &layout_, true};

    mm::PageTableBuilder build() {
        return mm::PageTableBuilder(mm::PageTableBuilder::create_pml4(memory_, frames_).frame(), memory_, frames_, /*cpu_has_1gib_pages=*/false);
    }
    mm::Translation at(const mm::PageTableBuilder& builder, uint64_t va) {
        return mm::translate(builder.root(), memory_, VirtAddr(va));
    }
};

bool writable(const mm::Translation& t) { return t.flags & pte::kWritable; }
bool executable(const mm::Translation& t) { return !(t.flags & pte::kNoExecute); }

TEST_F(BootstrapTables, PageZeroIsNotMappedAndTheRestOfLowMemoryIsDataOnly) {
    mm::PageTableBuilder builder = build();
    const boot::BootstrapResult result = boot::map_bootstrap(builder, plan_);
    ASSERT_TRUE(result.ok()) << mm::describe(result.status) << " in " << result.region;
    EXPECT_FALSE(at(builder, 0).present);
    EXPECT_FALSE(at(builder, 0xFFF).present);
    for (uint64_t va : std::initializer_list<uint64_t>{0x1000ull, 0x1F'F000ull, 0x4000'0000ull, 0xFEE0'0000ull, 4 * GiB - kPageSize}) {
        const mm::Translation t = at(builder, va);
        ASSERT_TRUE(t.present) << std::hex << va;
        EXPECT_EQ(t.pa.value(), va);
        EXPECT_TRUE(writable(t) && !executable(t)) << std::hex << va;
    }
    EXPECT_FALSE(at(builder, 4 * GiB).present);
    EXPECT_EQ(at(builder, 0x4000'0000).page_size, PageSize::k2MiB);  // large pages away from the edges
    EXPECT_EQ(at(builder, 0x1000).page_size, PageSize::k4KiB);        // the first 2 MiB, around page 0
}

TEST_F(BootstrapTables, OnlyTheTrampolinePageIsExecutableInTheIdentityMapAndItIsReadOnly) {
    mm::PageTableBuilder builder = build();
    ASSERT_TRUE(boot::map_bootstrap(builder, plan_).ok());
    const mm::Translation t = at(builder, kTrampoline);
    EXPECT_TRUE(t.present && executable(t) && !writable(t));
    EXPECT_EQ(t.pa.value(), kTrampoline);
    EXPECT_EQ(t.page_size, PageSize::k4KiB);
    for (uint64_t va : {kTrampoline - kPageSize, kTrampoline + kPageSize}) {  // its neighbours are data
        const mm::Translation n = at(builder, va);
        EXPECT_TRUE(n.present && writable(n) && !executable(n)) << std::hex << va;
    }
}

TEST_F(BootstrapTables, KernelFramesAreReadOnlyInTheIdentityMapAndTheImageHasItsElfRights) {
    mm::PageTableBuilder builder = build();
    ASSERT_TRUE(boot::map_bootstrap(builder, plan_).ok());
    for (uint64_t pa = kKernelPhys; pa < kKernelPhys + layout_.span; pa += kPageSize) {
        const mm::Translation t = at(builder, pa);
        EXPECT_TRUE(t.present && !writable(t) && !executable(t)) << std::hex << pa;
    }
    EXPECT_TRUE(writable(at(builder, kKernelPhys + layout_.span)));  // the next frame is ordinary RAM again
    const mm::Translation text = at(builder, kKernelBase), rodata = at(builder, kKernelBase + 0x2000),
                          bss = at(builder, kKernelBase + 0x14000);
    EXPECT_EQ(text.pa.value(), kKernelPhys);
    EXPECT_TRUE(executable(text) && !writable(text));
    EXPECT_TRUE(!executable(rodata) && !writable(rodata));
    EXPECT_TRUE(!executable(bss) && writable(bss));
    EXPECT_EQ(bss.pa.value(), kKernelPhys + 0x14000);
    EXPECT_FALSE(at(builder, kKernelBase - kPageSize).present);
    EXPECT_FALSE(at(builder, kKernelBase + layout_.span).present);
}

TEST_F(BootstrapTables, WithoutNxTheReservedBitIsNeverSet) {
    plan_.cpu_has_nx = false;
    mm::PageTableBuilder builder = build();
    ASSERT_TRUE(boot::map_bootstrap(builder, plan_).ok());
    for (uint64_t va : std::initializer_list<uint64_t>{0x1000ull, 0x4000'0000ull, kKernelBase + 0x2000, kKernelBase + 0x3000})
        EXPECT_FALSE(at(builder, va).flags & pte::kNoExecute) << std::hex << va;
}

TEST_F(BootstrapTables, TheBoundCoversWhatTheTablesTake) {
    for (uint64_t top : {4 * GiB, 6 * GiB, 513 * GiB}) {
        FakePhysicalMemory memory(PhysAddr(0x7000'0000'0000ull), 1200);
        FakeFrameSource frames(memory);
        plan_.identity_top = top;
        frames.set_page_table_budget(boot::bootstrap_table_pages_bound(plan_));
        mm::PageTableBuilder builder(mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, /*cpu_has_1gib_pages=*/false);
        const boot::BootstrapResult result = boot::map_bootstrap(builder, plan_);
        EXPECT_TRUE(result.ok()) << std::hex << top << ": " << mm::describe(result.status);
        EXPECT_LE(frames.handed_out().size(), boot::bootstrap_table_pages_bound(plan_));
    }
}

// The walk the loader used to do took any present entry for a table: a 4 KiB
// mapping inside a 2 MiB identity page would have written its "PTE" into the
// memory the 2 MiB page maps. The shared builder checks PS, refuses by name,
// and writes nothing.
TEST_F(BootstrapTables, AFourKibMappingInsideALargeIdentityPageIsRefusedNotWrittenIntoIt) {
    mm::PageTableBuilder builder = build();
    ASSERT_TRUE(boot::map_bootstrap(builder, plan_).ok());
    ASSERT_EQ(at(builder, 0x4000'0000).page_size, PageSize::k2MiB);
    const auto before = memory_.snapshot();
    const mm::MapResult r =
        builder.map_range(VirtAddr(0x4000'3000), PhysAddr(0x9000'0000), kPageSize, mm::kKernelDataPolicy);
    EXPECT_EQ(r.status, mm::MapStatus::kHugePageInTheWay);
    EXPECT_EQ(memory_.snapshot(), before);
}

// A pool too small for the tables: the builder's own refusal, with the region.
TEST_F(BootstrapTables, TooFewTableFramesIsRefusedByName) {
    frames_.set_page_table_budget(3);
    mm::PageTableBuilder builder = build();
    const boot::BootstrapResult result = boot::map_bootstrap(builder, plan_);
    EXPECT_EQ(result.status, mm::MapStatus::kOutOfTableFrames);
    EXPECT_EQ(std::string(result.region), "identity");
}

// ---------------------------------------------------------------------------
// identity_top: RAM decides, devices do not
// ---------------------------------------------------------------------------

uint64_t top_of(const FakeMemoryMap& map, uint64_t framebuffer_end = 0) {
    uint64_t top = 0;
    const Violation v = boot::identity_top(map.bytes.data(), map.bytes.size(), map.stride, framebuffer_end, &top);
    EXPECT_TRUE(v.ok()) << v.field << " " << v.rule;
    return top;
}

FakeMemoryMap small_machine() {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x1000, 0x9F)
        .add(EfiMemoryType::kConventional, 0x10'0000, 0x7F00)
        .add(EfiMemoryType::kMmio, 0xFFC0'0000, 0x400, boot::kEfiMemoryUc);
    return map;
}

TEST(IdentityExtent, AtLeastFourGibEvenWithLittleRam) { EXPECT_EQ(top_of(small_machine()), 4 * GiB); }

TEST(IdentityExtent, RamAboveFourGibIsCoveredRoundedUpToAGib) {
    FakeMemoryMap map = small_machine();
    map.add(EfiMemoryType::kConventional, 4 * GiB, (GiB + 0x1000) / kPageSize);
    EXPECT_EQ(top_of(map), 6 * GiB);
    map.add(EfiMemoryType::kKernelImage, 7 * GiB, 1);  // loader-owned memory is RAM too
    EXPECT_EQ(top_of(map), 8 * GiB);
}

TEST(IdentityExtent, AnMmioDescriptorNearTwoToTheFortySixDoesNotMoveIt) {
    FakeMemoryMap map = small_machine();
    map.add(EfiMemoryType::kMmio, (1ull << 46) - 16 * MiB, 16 * MiB / kPageSize, boot::kEfiMemoryUc);
    map.add(EfiMemoryType::kReserved, (1ull << 45), 1, boot::kEfiMemoryUc);
    map.add(EfiMemoryType::kConventional, 0x1'0000'0000'0000ull, 1, 0);  // RAM the firmware will not let be cached WB
    EXPECT_EQ(top_of(map), 4 * GiB);
}

TEST(IdentityExtent, AFramebufferAboveRamIsCovered) {
    EXPECT_EQ(top_of(small_machine(), 0x8'0000'0000ull + 8 * MiB), 0x8'0000'0000ull + GiB);
}

TEST(IdentityExtent, RamBeyondSixtyFourTibIsRefusedByName) {
    FakeMemoryMap map = small_machine();
    map.add(EfiMemoryType::kConventional, (1ull << 47) - GiB, GiB / kPageSize);
    uint64_t top = 0;
    const Violation v = boot::identity_top(map.bytes.data(), map.bytes.size(), map.stride, 0, &top);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(std::string(v.field), "descriptor.end");
    EXPECT_EQ(v.value, 1ull << 47);
    EXPECT_EQ(v.index, 3u);
}

TEST(IdentityExtent, RamWhoseEndOverflowsIsRefused) {
    FakeMemoryMap map = small_machine();
    map.add(EfiMemoryType::kConventional, 0xFFFF'FFFF'FFFF'0000ull, 0x100);
    uint64_t top = 0;
    const Violation v = boot::identity_top(map.bytes.data(), map.bytes.size(), map.stride, 0, &top);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(std::string(v.field), "descriptor.end");
}

TEST(IdentityExtent, AFramebufferBeyondSixtyFourTibIsRefused) {
    uint64_t top = 0;
    const FakeMemoryMap map = small_machine();
    const Violation v = boot::identity_top(map.bytes.data(), map.bytes.size(), map.stride, 1ull << 47, &top);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(std::string(v.field), "framebuffer.end");
}

}  // namespace

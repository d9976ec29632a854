// Chapter 07's temporary window and TLB flush token over a fake physical
// memory: the PTE the window writes, the invalidations it asks for (recorded
// instead of executed), the page table made up front, and the bugs it stops.
#include <gtest/gtest.h>

#include <optional>
#include <utility>
#include <vector>

#include "mm/address_space_layout.h"
#include "arch/x86/paging_bits.h"
#include "fake_physical_memory.h"
#include "mm/page_table_builder.h"
#include "mm/page_table_lookup.h"
#include "mm/temporary_window.h"
#include "mm/tlb_flush.h"

namespace {

using mm::PhysAddr;
using mm::VirtAddr;
namespace pte = x86::pte;

constexpr VirtAddr kSlot = mm::layout::kTemporaryWindowSlot;
constexpr mm::CpuPagingFeatures kFullCpu = {true, true};
constexpr PhysAddr kFrameA(0x1234'5000);
constexpr PhysAddr kFrameB(0x0000'0008'7654'3000ull);  // above 4 GiB: no 32-bit truncation

// Records every invalidation, with the slot's PTE as it was at that moment
// (so a test can tell an invalidation before the write from one after it).
class RecordingTlb final : public mm::TlbInvalidator {
public:
    struct Call {
        VirtAddr page;
        uint64_t pte_then;
    };

    void invalidate_page(VirtAddr page) override { calls.push_back({page, watched ? watched->raw() : 0}); }

    const mm::PageTableEntry* watched = nullptr;
    std::vector<Call> calls;
};

class TemporaryWindowTest : public ::testing::Test {
protected:
    TemporaryWindowTest() {
        const mm::FrameResult pml4 = mm::PageTableBuilder::create_pml4(memory_, frames_);
        EXPECT_TRUE(pml4.ok());
        builder_.emplace(pml4.frame(), memory_, frames_, kFullCpu.pages_1gib);
    }

    mm::PageTableBuilder& builder() { return *builder_; }

    mm::TableResult create(mm::CpuPagingFeatures cpu = kFullCpu) {
        const mm::TableResult r = window_.create(builder(), memory_, tlb_, cpu);
        if (r.ok()) tlb_.watched = &pte();
        return r;
    }

    const mm::PageTableEntry& pte() {
        return (*memory_.table_at(window_.page_table()))[mm::index_at(kSlot, mm::PageTableLevel::kPt)];
    }
    mm::Translation at(VirtAddr va) { return mm::translate(builder().root(), memory_, va); }

    FakePhysicalMemory memory_{PhysAddr(0x200'0000 + 0x3000), 32};
    FakeFrameSource frames_{memory_};
    std::optional<mm::PageTableBuilder> builder_;
    RecordingTlb tlb_;
    mm::TemporaryWindow window_;
};

constexpr uint64_t kSlotFlags = pte::kPresent | pte::kWritable | pte::kNoExecute;

}  // namespace

// ---- TlbFlush -------------------------------------------------------------------

TEST(TlbFlush, FlushInvalidatesItsPageOnce) {
    RecordingTlb tlb;
    mm::TlbFlush token(kSlot, tlb);
    EXPECT_TRUE(token.pending());
    EXPECT_EQ(token.page(), kSlot);
    EXPECT_TRUE(tlb.calls.empty());  // nothing happens until the caller decides
    token.flush();
    EXPECT_FALSE(token.pending());
    ASSERT_EQ(tlb.calls.size(), 1u);
    EXPECT_EQ(tlb.calls[0].page, kSlot);
}

TEST(TlbFlush, IgnoreInvalidatesNothing) {
    RecordingTlb tlb;
    mm::TlbFlush token(kSlot, tlb);
    token.ignore();
    EXPECT_FALSE(token.pending());
    EXPECT_TRUE(tlb.calls.empty());
}

TEST(TlbFlush, MovedFromTokenIsInert) {
    RecordingTlb tlb;
    {
        mm::TlbFlush first(kSlot, tlb);
        mm::TlbFlush second(std::move(first));
        EXPECT_FALSE(first.pending());  // its destructor must not complain
        EXPECT_TRUE(second.pending());
        second.flush();
    }
    EXPECT_EQ(tlb.calls.size(), 1u);
}

TEST(TlbFlushDeathTest, DroppedTokenIsABug) {
    RecordingTlb tlb;
    EXPECT_DEATH({ mm::TlbFlush token(kSlot, tlb); }, "a TlbFlush must end in flush\\(\\) or ignore\\(\\)");
}

TEST(TlbFlushDeathTest, FinishingTwiceIsABug) {
    RecordingTlb tlb;
    EXPECT_DEATH(
        {
            mm::TlbFlush token(kSlot, tlb);
            token.flush();
            token.ignore();
        },
        "pending\\(\\)");
}

TEST(TlbFlushDeathTest, PageMustBeAligned) {
    RecordingTlb tlb;
    EXPECT_DEATH({ mm::TlbFlush(kSlot + 8, tlb).ignore(); }, "is_aligned");
}

// ---- creating the window ---------------------------------------------------------

TEST_F(TemporaryWindowTest, CreateMakesTheSlotsPageTableUpFrontAndMapsNothing) {
    const size_t frames_before = frames_.handed_out().size();
    const mm::TableResult r = create();
    ASSERT_TRUE(r.ok()) << mm::describe(r.status);
    EXPECT_TRUE(window_.ready());
    EXPECT_EQ(window_.slot(), kSlot);
    // An empty PML4: the PDPT, the PD and the PT are new, and counted by the builder.
    EXPECT_EQ(r.tables_created, 3u);
    EXPECT_EQ(frames_.handed_out().size(), frames_before + 3);
    EXPECT_EQ(builder().stats().tables_created, 3u);
    EXPECT_EQ(r.table, window_.page_table());
    EXPECT_EQ(frames_.handed_out().back(), window_.page_table());  // the PT is the last one made
    // Zeroed, not garbage: the slot and its neighbours are not present.
    for (const mm::PageTableEntry& e : memory_.table_at(window_.page_table())->entries) EXPECT_EQ(e.raw(), 0u);
    EXPECT_FALSE(at(kSlot).present);
    EXPECT_TRUE(tlb_.calls.empty());  // nothing was live, nothing to invalidate
    EXPECT_EQ(window_.leaf_flags(), kSlotFlags);
}

TEST_F(TemporaryWindowTest, CreateReusesTablesThatExist) {
    // The kernel image's mapping already made PML4 slot 511's PDPT.
    ASSERT_TRUE(builder().map_range(mm::layout::kKernelImageBase, PhysAddr(0x10'0000), kPageSize,
                                    mm::kKernelDataPolicy).ok());
    const uint64_t tables_before = builder().stats().tables_created;
    const mm::TableResult r = create();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.tables_created, 2u);  // the PD and the PT only
    EXPECT_EQ(builder().stats().tables_created, tables_before + 2);
    EXPECT_TRUE(at(mm::layout::kKernelImageBase).present);
}

TEST_F(TemporaryWindowTest, CreateRefusesASlotSomebodyMapped) {
    ASSERT_TRUE(builder().map_range(kSlot, kFrameA, kPageSize, mm::kKernelDataPolicy).ok());
    const mm::TableResult r = create();
    EXPECT_EQ(r.status, mm::MapStatus::kAlreadyMapped);
    EXPECT_FALSE(window_.ready());
}

TEST_F(TemporaryWindowTest, CreateRefusesALargePageOverTheSlot) {
    ASSERT_TRUE(builder().map_range(kSlot, PhysAddr(0x4000'0000), 2 * MiB, mm::identity_low_memory_policy()).ok());
    ASSERT_EQ(at(kSlot).page_size, mm::PageSize::k2MiB);
    const std::vector<unsigned char> before = memory_.snapshot();
    EXPECT_EQ(create().status, mm::MapStatus::kHugePageInTheWay);
    EXPECT_TRUE(memory_.snapshot() == before);
    EXPECT_FALSE(window_.ready());
}

TEST_F(TemporaryWindowTest, CreateIsAllOrNothingWhenTableFramesRunOut) {
    frames_.set_page_table_budget(2);  // three are needed
    const std::vector<unsigned char> before = memory_.snapshot();
    const size_t frames_before = frames_.handed_out().size();
    EXPECT_EQ(create().status, mm::MapStatus::kOutOfTableFrames);
    EXPECT_TRUE(memory_.snapshot() == before);
    EXPECT_EQ(frames_.handed_out().size(), frames_before);
    EXPECT_FALSE(window_.ready());
}

TEST_F(TemporaryWindowTest, PrepareRefusesAnUnalignedOrNonCanonicalAddress) {
    EXPECT_EQ(builder().prepare_page_table(kSlot + 8).status, mm::MapStatus::kMisalignedVirtual);
    EXPECT_EQ(builder().prepare_page_table(VirtAddr(0x0000'8000'0000'0000ull)).status, mm::MapStatus::kNonCanonical);
    EXPECT_EQ(builder().stats().tables_created, 0u);
}

TEST_F(TemporaryWindowTest, PrepareTwiceCreatesNothingTheSecondTime) {
    const mm::TableResult first = builder().prepare_page_table(kSlot);
    const mm::TableResult second = builder().prepare_page_table(kSlot);
    ASSERT_TRUE(first.ok() && second.ok());
    EXPECT_EQ(second.table, first.table);
    EXPECT_EQ(second.tables_created, 0u);
}

// ---- mapping and unmapping --------------------------------------------------------

TEST_F(TemporaryWindowTest, MapWritesAPresentRwNxPteThenInvalidatesTheSlot) {
    ASSERT_TRUE(create().ok());
    {
        mm::TemporaryMapping m = window_.map(kFrameB);
        EXPECT_TRUE(window_.in_use());
        EXPECT_EQ(m.va(), kSlot);
        EXPECT_EQ(m.frame(), kFrameB);
        EXPECT_EQ(pte().raw(), kFrameB.value() | kSlotFlags);
        const mm::Translation t = at(kSlot + 0x123);
        EXPECT_TRUE(t.present);
        EXPECT_EQ(t.pa, kFrameB + 0x123);
        EXPECT_EQ(t.page_size, mm::PageSize::k4KiB);
        EXPECT_EQ(t.flags, kSlotFlags);
        ASSERT_EQ(tlb_.calls.size(), 1u);
        EXPECT_EQ(tlb_.calls[0].page, kSlot);
        EXPECT_EQ(tlb_.calls[0].pte_then, kFrameB.value() | kSlotFlags);  // after the write, not before
    }
    EXPECT_FALSE(window_.in_use());
}

TEST_F(TemporaryWindowTest, UnmapClearsThePteThenInvalidatesTheSlot) {
    ASSERT_TRUE(create().ok());
    { mm::TemporaryMapping m = window_.map(kFrameA); }
    EXPECT_EQ(pte().raw(), 0u);
    EXPECT_FALSE(at(kSlot).present);
    ASSERT_EQ(tlb_.calls.size(), 2u);
    EXPECT_EQ(tlb_.calls[1].page, kSlot);
    EXPECT_EQ(tlb_.calls[1].pte_then, 0u);  // invalidated once the entry was gone
}

TEST_F(TemporaryWindowTest, WithoutNxTheSlotIsRwOnly) {
    ASSERT_TRUE(create({false, false}).ok());
    mm::TemporaryMapping m = window_.map(kFrameA);
    EXPECT_EQ(pte().raw(), kFrameA.value() | pte::kPresent | pte::kWritable);
}

TEST_F(TemporaryWindowTest, MappingNeverAllocatesAndEveryMapIsInvalidatedTwice) {
    ASSERT_TRUE(create().ok());
    const size_t frames_before = frames_.handed_out().size();
    const uint64_t tables_before = builder().stats().tables_created;
    for (uint64_t i = 0; i < 1000; ++i) {
        const PhysAddr frame(0x10'0000 + i * kPageSize);
        mm::TemporaryMapping m = window_.map(frame);
        ASSERT_EQ(at(kSlot).pa, frame);
    }
    EXPECT_EQ(frames_.handed_out().size(), frames_before);
    EXPECT_EQ(builder().stats().tables_created, tables_before);
    EXPECT_EQ(window_.maps(), 1000u);
    EXPECT_EQ(tlb_.calls.size(), 2000u);
    for (const RecordingTlb::Call& c : tlb_.calls) EXPECT_EQ(c.page, kSlot);
}

TEST_F(TemporaryWindowTest, PtrPointsIntoTheSlot) {
    ASSERT_TRUE(create().ok());
    mm::TemporaryMapping m = window_.map(kFrameA);
    EXPECT_EQ(reinterpret_cast<uint64_t>(m.ptr<uint64_t>()), kSlot.value());
    EXPECT_EQ(reinterpret_cast<uint64_t>(m.ptr<volatile uint32_t>(0xFFC)), kSlot.value() + 0xFFC);
}

// ---- changing the live mapping ----------------------------------------------------

TEST_F(TemporaryWindowTest, RemapChangesThePteAndLeavesTheFlushToTheCaller) {
    ASSERT_TRUE(create().ok());
    mm::TemporaryMapping m = window_.map(kFrameA);
    const size_t calls_after_map = tlb_.calls.size();

    mm::TlbFlush token = m.remap(kFrameB);
    EXPECT_EQ(pte().raw(), kFrameB.value() | kSlotFlags);
    EXPECT_EQ(m.frame(), kFrameB);
    EXPECT_TRUE(token.pending());
    EXPECT_EQ(token.page(), kSlot);
    EXPECT_EQ(tlb_.calls.size(), calls_after_map);  // the stale translation may still be in the TLB
    token.flush();
    ASSERT_EQ(tlb_.calls.size(), calls_after_map + 1);
    EXPECT_EQ(tlb_.calls.back().pte_then, kFrameB.value() | kSlotFlags);

    m.remap(kFrameA).ignore();
    EXPECT_EQ(tlb_.calls.size(), calls_after_map + 1);  // ignored: nothing invalidated
    EXPECT_EQ(at(kSlot).pa, kFrameA);
}

// ---- the bugs it stops -----------------------------------------------------------------

TEST_F(TemporaryWindowTest, NestingIsRefused) {
    ASSERT_TRUE(create().ok());
    EXPECT_DEATH(
        {
            mm::TemporaryMapping outer = window_.map(kFrameA);
            mm::TemporaryMapping inner = window_.map(kFrameB);
        },
        "one TemporaryMapping at a time");
}

TEST_F(TemporaryWindowTest, AFrameMustBeAligned) {
    ASSERT_TRUE(create().ok());
    EXPECT_DEATH({ mm::TemporaryMapping m = window_.map(kFrameA + 0x10); }, "is_aligned");
    EXPECT_DEATH({ mm::TemporaryMapping m = window_.map(PhysAddr(PhysAddr::kLimit)); }, "kLimit");
}

TEST_F(TemporaryWindowTest, MapBeforeCreateIsABug) {
    EXPECT_DEATH({ mm::TemporaryMapping m = window_.map(kFrameA); }, "ready\\(\\)");
}

TEST_F(TemporaryWindowTest, PtrStaysInsideTheFrame) {
    ASSERT_TRUE(create().ok());
    EXPECT_DEATH(
        {
            mm::TemporaryMapping m = window_.map(kFrameA);
            (void)m.ptr<uint64_t>(kPageSize - 4);
        },
        "offset");
}

TEST_F(TemporaryWindowTest, ADroppedRemapTokenIsABug) {
    ASSERT_TRUE(create().ok());
    EXPECT_DEATH(
        {
            mm::TemporaryMapping m = window_.map(kFrameA);
            mm::TlbFlush token = m.remap(kFrameB);
        },
        "flush\\(\\) or ignore\\(\\)");
}

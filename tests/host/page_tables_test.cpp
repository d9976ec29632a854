// Chapter 04's page-table library over a fake physical memory: typed
// addresses, indices and entries, the mapping policy, and PageTableBuilder's
// page-size choices, table counts and refusals.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "arch/x86/paging_bits.h"
#include "fake_physical_memory.h"
#include "mm/mapping_policy.h"
#include "mm/page_size.h"
#include "mm/page_table_builder.h"
#include "mm/page_table_entry.h"
#include "mm/page_table_index.h"
#include "mm/page_table_lookup.h"
#include "mm/virt_addr.h"

using mm::MappingPolicy;
using mm::MapStats;
using mm::MapStatus;
using mm::PageSize;
using mm::PageTableEntry;
using mm::PageTableLevel;
using mm::PhysAddr;
using mm::VirtAddr;
namespace pte = x86::pte;

namespace mm {
// So that a failed comparison prints the counts, not the bytes.
void PrintTo(const MapStats& s, std::ostream* out) {
    *out << "{4KiB=" << s.pages_4k << " 2MiB=" << s.pages_2m << " 1GiB=" << s.pages_1g << " tables=" << s.tables_created
         << "}";
}
}  // namespace mm

namespace {

constexpr uint64_t k512GiB = 512 * GiB;
constexpr uint64_t kKernelBase = 0xFFFF'FFFF'8000'0000ull;
constexpr MappingPolicy kAny1GiB = mm::identity_low_memory_policy();

std::string summary(uint64_t flags, PageTableLevel level, size_t capacity = mm::kFlagsSummaryCapacity) {
    char buffer[64];
    const size_t length = mm::flags_summary(flags, level, buffer, capacity);
    EXPECT_EQ(length, std::strlen(buffer));
    return std::string(buffer, length);
}

MapStats stats(uint64_t pages_4k, uint64_t pages_2m, uint64_t pages_1g, uint64_t tables) {
    MapStats s;
    s.pages_4k = pages_4k;
    s.pages_2m = pages_2m;
    s.pages_1g = pages_1g;
    s.tables_created = tables;
    return s;
}

// A fresh address space over 64 frames of fake memory at 16 MiB + 12 KiB
// (4 KiB-aligned only, so a table address is never mistaken for a large page's).
class PageTables : public ::testing::Test {
protected:
    PageTables() : memory_(PhysAddr(16 * MiB + 12 * KiB), 64), frames_(memory_), pml4_(new_pml4()),
                   builder_(pml4_, memory_, frames_, /*cpu_has_1gib_pages=*/true) {}

    PhysAddr new_pml4() {
        const mm::FrameResult frame = mm::PageTableBuilder::create_pml4(memory_, frames_);
        EXPECT_TRUE(frame.ok());
        return frame.frame();
    }

    mm::MapResult map(uint64_t va, uint64_t pa, uint64_t length, const MappingPolicy& policy = kAny1GiB) {
        return builder_.map_range(VirtAddr(va), PhysAddr(pa), length, policy);
    }

    mm::Translation at(uint64_t va) { return mm::translate(pml4_, memory_, VirtAddr(va)); }

    // Tables created by the builder (the PML4 came first).
    size_t tables_allocated() const { return frames_.handed_out().size() - 1; }

    // Maps, expects success and returns what was mapped.
    MapStats map_ok(uint64_t va, uint64_t pa, uint64_t length, const MappingPolicy& policy = kAny1GiB) {
        const mm::MapResult result = map(va, pa, length, policy);
        EXPECT_EQ(result.status, MapStatus::kOk) << mm::describe(result.status);
        return result.mapped;
    }

    // A refusal must leave every byte of "RAM" and every counter as it was.
    void expect_refused(MapStatus expected, uint64_t va, uint64_t pa, uint64_t length,
                        const MappingPolicy& policy = kAny1GiB) {
        const std::vector<unsigned char> before = memory_.snapshot();
        const size_t frames_before = frames_.handed_out().size();
        const MapStats stats_before = builder_.stats();
        const mm::MapResult result = map(va, pa, length, policy);
        EXPECT_EQ(result.status, expected) << mm::describe(result.status);
        EXPECT_EQ(result.mapped, MapStats{});
        EXPECT_TRUE(memory_.snapshot() == before) << "a refused mapping changed the tables";
        EXPECT_EQ(frames_.handed_out().size(), frames_before);
        EXPECT_EQ(builder_.stats(), stats_before);
    }

    FakePhysicalMemory memory_;
    FakeFrameSource frames_;
    PhysAddr pml4_;
    mm::PageTableBuilder builder_;
};

}  // namespace

// ---- VirtAddr ----------------------------------------------------------------

TEST(VirtAddr, IsCanonicalWhenBits63To47AreEqual) {
    EXPECT_TRUE(VirtAddr(0).is_canonical());
    EXPECT_TRUE(VirtAddr(0x0000'7FFF'FFFF'FFFFull).is_canonical());
    EXPECT_TRUE(VirtAddr(0xFFFF'8000'0000'0000ull).is_canonical());
    EXPECT_TRUE(VirtAddr(~0ull).is_canonical());
    EXPECT_FALSE(VirtAddr(0x0000'8000'0000'0000ull).is_canonical());
    EXPECT_FALSE(VirtAddr(0xFFFF'7FFF'FFFF'FFFFull).is_canonical());
    EXPECT_FALSE(VirtAddr(0x8000'0000'0000'0000ull).is_canonical());
    EXPECT_FALSE(VirtAddr(0x0001'0000'0000'0000ull).is_canonical());
    EXPECT_TRUE(VirtAddr(kKernelBase).is_upper_half());
    EXPECT_FALSE(VirtAddr(0x1000).is_upper_half());
}

TEST(VirtAddr, SplitsPageAndOffsetAndCompares) {
    const VirtAddr va(0xFFFF'FFFF'8012'3456ull);
    EXPECT_EQ(va.page_base(), VirtAddr(0xFFFF'FFFF'8012'3000ull));
    EXPECT_EQ(va.offset_in_page(), 0x456u);
    EXPECT_FALSE(va.is_aligned(kPageSize));
    EXPECT_TRUE(va.page_base().is_aligned(kPageSize));
    EXPECT_EQ(va + 0xBAA, VirtAddr(0xFFFF'FFFF'8012'4000ull));
    EXPECT_EQ((va + 0x10) - va, 0x10u);
    EXPECT_LT(VirtAddr(1), VirtAddr(2));
    EXPECT_GE(VirtAddr(2), VirtAddr(2));
    EXPECT_TRUE(VirtAddr().is_null());
}

// ---- PageSize, levels, indices ----------------------------------------------

TEST(PageSize, ValueIsTheByteSize) {
    EXPECT_EQ(mm::bytes(PageSize::k4KiB), 4 * KiB);
    EXPECT_EQ(mm::bytes(PageSize::k2MiB), 2 * MiB);
    EXPECT_EQ(mm::bytes(PageSize::k1GiB), 1 * GiB);
    EXPECT_STREQ(mm::name(PageSize::k2MiB), "2MiB");
    EXPECT_EQ(mm::next_smaller(PageSize::k1GiB), PageSize::k2MiB);
    EXPECT_EQ(mm::next_smaller(PageSize::k4KiB), PageSize::k4KiB);
    EXPECT_EQ(mm::leaf_level(PageSize::k1GiB), PageTableLevel::kPdpt);
    EXPECT_EQ(mm::leaf_page_size(PageTableLevel::kPt), PageSize::k4KiB);
}

TEST(PageTableIndex, ExtractsNineBitsPerLevel) {
    // 0xFFFF_FFFF_C060_3000: PML4 511, PDPT 511, PD 3, PT 3 (bits 47..39, 38..30, 29..21, 20..12).
    const VirtAddr va(0xFFFF'FFFF'C060'3000ull);
    EXPECT_EQ(mm::index_at(va, PageTableLevel::kPml4).value(), 511u);
    EXPECT_EQ(mm::index_at(va, PageTableLevel::kPdpt).value(), 511u);
    EXPECT_EQ(mm::index_at(va, PageTableLevel::kPd).value(), 3u);
    EXPECT_EQ(mm::index_at(va, PageTableLevel::kPt).value(), 3u);
    const VirtAddr low((uint64_t(5) << 39) | (uint64_t(6) << 30) | (uint64_t(7) << 21) | (uint64_t(8) << 12) | 9);
    EXPECT_EQ(mm::index_at(low, PageTableLevel::kPml4).value(), 5u);
    EXPECT_EQ(mm::index_at(low, PageTableLevel::kPdpt).value(), 6u);
    EXPECT_EQ(mm::index_at(low, PageTableLevel::kPd).value(), 7u);
    EXPECT_EQ(mm::index_at(low, PageTableLevel::kPt).value(), 8u);
}

TEST(PageTableIndexDeathTest, RejectsIndex512) {
    volatile unsigned index = 512;
    EXPECT_DEATH(mm::PageTableIndex{index}, "value < kCount");
}

// ---- PageTableEntry ----------------------------------------------------------

TEST(PageTableEntry, NamesEachBit) {
    const PageTableEntry e = PageTableEntry::from_raw(pte::kPresent | pte::kWritable | pte::kUser | pte::kWriteThrough |
                                                      pte::kCacheDisable | pte::kAccessed | pte::kDirty |
                                                      pte::kHugePage | pte::kGlobal | pte::kNoExecute);
    EXPECT_TRUE(e.present() && e.writable() && e.user() && e.write_through() && e.cache_disable() && e.accessed() &&
                e.dirty() && e.huge() && e.global() && e.no_execute());
    const PageTableEntry empty;
    EXPECT_EQ(empty.raw(), 0u);
    EXPECT_FALSE(empty.present() || empty.writable() || empty.user() || empty.write_through() ||
                 empty.cache_disable() || empty.accessed() || empty.dirty() || empty.huge() || empty.global() ||
                 empty.no_execute());
    EXPECT_EQ(sizeof(PageTableEntry), 8u);
    EXPECT_EQ(sizeof(mm::PageTable), 4096u);
    EXPECT_EQ(alignof(mm::PageTable), 4096u);
}

TEST(PageTableEntry, AddressKeepsBits12To51Only) {
    // NX and the ignored high bits stay out of the address; bits above 32 stay in.
    const PageTableEntry e = PageTableEntry::from_raw(pte::kNoExecute | (0x7Full << 52) | 0x000F'FFFF'FFFF'F000ull |
                                                      pte::kPresent | pte::kWritable);
    EXPECT_EQ(e.address(), PhysAddr(0x000F'FFFF'FFFF'F000ull));
    EXPECT_EQ(e.flags(PageTableLevel::kPt), pte::kNoExecute | (0x7Full << 52) | pte::kPresent | pte::kWritable);
}

TEST(PageTableEntry, LargeLeafReadsBit12AsPat) {
    const PageTableEntry e =
        PageTableEntry::from_raw(0x4020'0000ull | pte::kPatHuge | pte::kHugePage | pte::kPresent);
    EXPECT_EQ(e.page_address(PageTableLevel::kPd), PhysAddr(0x4020'0000ull));
    EXPECT_EQ(e.flags(PageTableLevel::kPd), pte::kPatHuge | pte::kHugePage | pte::kPresent);
    // As a PTE the same bits are a 4 KiB page at ...1000 with PAT (bit 7).
    EXPECT_EQ(e.page_address(PageTableLevel::kPt), PhysAddr(0x4020'1000ull));
}

TEST(PageTableEntry, SetWritesAddressAndFlags) {
    PageTableEntry e;
    e.set(PageTableLevel::kPd, PhysAddr(0x20'0000), pte::kPresent | pte::kHugePage | pte::kPatHuge);
    EXPECT_EQ(e.raw(), 0x20'0000u | pte::kPresent | pte::kHugePage | pte::kPatHuge);
    e.set(PageTableLevel::kPd, PhysAddr(0x5000), mm::kTableEntryFlags);  // a table pointer: 4 KiB is enough
    EXPECT_EQ(e.address(), PhysAddr(0x5000));
    e.set(PageTableLevel::kPdpt, PhysAddr(0x4000'0000), pte::kPresent | pte::kHugePage);
    EXPECT_EQ(e.page_address(PageTableLevel::kPdpt), PhysAddr(0x4000'0000));
    e.clear();
    EXPECT_EQ(e.raw(), 0u);
}

TEST(PageTableEntryDeathTest, SetAssertsAlignmentForTheLevel) {
    PageTableEntry e;
    volatile uint64_t pa_4k = 0x20'1000, pa_2m = 0x20'0000, too_high = PhysAddr::kLimit;
    EXPECT_DEATH(e.set(PageTableLevel::kPd, PhysAddr(pa_4k), pte::kPresent | pte::kHugePage), "is_aligned");
    EXPECT_DEATH(e.set(PageTableLevel::kPdpt, PhysAddr(pa_2m), pte::kPresent | pte::kHugePage), "is_aligned");
    EXPECT_DEATH(e.set(PageTableLevel::kPt, PhysAddr(pa_4k + 8), pte::kPresent), "kAddressMask");
    EXPECT_DEATH(e.set(PageTableLevel::kPt, PhysAddr(too_high), pte::kPresent), "kAddressMask");
    EXPECT_DEATH(e.set(PageTableLevel::kPt, PhysAddr(pa_4k), pte::kPresent | 0x1000), "address_bits");
    EXPECT_DEATH(e.set(PageTableLevel::kPml4, PhysAddr(pa_2m), pte::kPresent | pte::kHugePage), "kPml4");
}

TEST(FlagsSummary, RendersSdmNamesInAFixedOrder) {
    EXPECT_EQ(summary(pte::kPresent | pte::kWritable | pte::kNoExecute, PageTableLevel::kPt), "P|RW|NX");
    EXPECT_EQ(summary(pte::kWriteThrough | pte::kCacheDisable | pte::kNoExecute | pte::kWritable | pte::kPresent,
                      PageTableLevel::kPt),
              "P|RW|NX|PCD|PWT");
    EXPECT_EQ(summary(pte::kPresent, PageTableLevel::kPt), "P");
    EXPECT_EQ(summary(~pte::kAddressMask, PageTableLevel::kPd), "P|RW|US|NX|PCD|PWT|PS|G|A|D");
    EXPECT_EQ(summary(~pte::kAddressMask | pte::kPatHuge, PageTableLevel::kPdpt), "P|RW|US|NX|PCD|PWT|PAT|PS|G|A|D");
    EXPECT_EQ(summary(0, PageTableLevel::kPt), "-");
}

TEST(FlagsSummary, ReadsBit7AsPatInAPteAndPsAbove) {
    EXPECT_EQ(summary(pte::kPresent | pte::kPat4K, PageTableLevel::kPt), "P|PAT");
    EXPECT_EQ(summary(pte::kPresent | pte::kHugePage, PageTableLevel::kPd), "P|PS");
    EXPECT_EQ(summary(pte::kPresent | pte::kHugePage | pte::kPatHuge, PageTableLevel::kPd), "P|PAT|PS");
}

TEST(FlagsSummary, TruncatesWithoutOverflowingTheBuffer) {
    EXPECT_EQ(summary(pte::kPresent | pte::kWritable | pte::kNoExecute, PageTableLevel::kPt, 5), "P|RW");
    char one[1] = {'x'};
    EXPECT_EQ(mm::flags_summary(pte::kPresent, PageTableLevel::kPt, one, 1), 0u);
    EXPECT_EQ(one[0], '\0');
    EXPECT_EQ(mm::flags_summary(pte::kPresent, PageTableLevel::kPt, nullptr, 0), 0u);
}

// ---- Mapping policy ----------------------------------------------------------

TEST(MappingPolicy, FlagSetsHaveExactlyTheirBits) {
    namespace lf = mm::leaf_flags;
    EXPECT_EQ(lf::kKernelText, pte::kPresent);  // RX: not writable, no NX
    EXPECT_EQ(lf::kKernelRodata, pte::kPresent | pte::kNoExecute);
    EXPECT_EQ(lf::kKernelData, pte::kPresent | pte::kWritable | pte::kNoExecute);
    EXPECT_EQ(lf::kPhysWindow, pte::kPresent | pte::kWritable | pte::kNoExecute);
    EXPECT_EQ(lf::kIdentityLowMemory, pte::kPresent | pte::kWritable | pte::kNoExecute);
    EXPECT_EQ(mm::kTableEntryFlags, pte::kPresent | pte::kWritable);
    for (uint64_t flags : {lf::kKernelText, lf::kKernelRodata, lf::kKernelData, lf::kPhysWindow,
                           lf::kIdentityLowMemory}) {
        EXPECT_EQ(flags & pte::kUser, 0u);
        EXPECT_FALSE((flags & pte::kWritable) && !(flags & pte::kNoExecute)) << "writable and executable";
    }
    EXPECT_EQ(mm::kKernelTextPolicy.max_page_size, PageSize::k4KiB);
    EXPECT_EQ(mm::kKernelRodataPolicy.max_page_size, PageSize::k4KiB);
    EXPECT_EQ(mm::kKernelDataPolicy.max_page_size, PageSize::k4KiB);
    EXPECT_EQ(mm::phys_window_policy().max_page_size, PageSize::k1GiB);
    EXPECT_EQ(mm::leaf_entry_flags(mm::kKernelTextPolicy, PageSize::k4KiB), pte::kPresent);
    EXPECT_EQ(mm::leaf_entry_flags(kAny1GiB, PageSize::k1GiB), lf::kIdentityLowMemory | pte::kHugePage);
}

TEST(LargestPageSize, NeedsBothAddressesAlignedAndEnoughBytes) {
    auto largest = [](uint64_t va, uint64_t pa, uint64_t left, bool has_1g = true,
                      PageSize max = PageSize::k1GiB) {
        return mm::largest_page_size(VirtAddr(va), PhysAddr(pa), left, has_1g, max);
    };
    EXPECT_EQ(largest(GiB, GiB, GiB), PageSize::k1GiB);
    EXPECT_EQ(largest(GiB, GiB, 4 * GiB), PageSize::k1GiB);
    EXPECT_EQ(largest(GiB, GiB, GiB - 4 * KiB), PageSize::k2MiB);      // one page short of 1 GiB
    EXPECT_EQ(largest(GiB, GiB, 2 * MiB - 4 * KiB), PageSize::k4KiB);  // one page short of 2 MiB
    // The physical address decides as much as the virtual one.
    EXPECT_EQ(largest(GiB, 3 * GiB + 2 * MiB, GiB), PageSize::k2MiB);
    EXPECT_EQ(largest(GiB, 2 * MiB + 4 * KiB, GiB), PageSize::k4KiB);
    EXPECT_EQ(largest(GiB + 2 * MiB, GiB, GiB), PageSize::k2MiB);
    EXPECT_EQ(largest(kKernelBase + 4 * KiB, 2 * MiB, GiB), PageSize::k4KiB);
    // The CPU and the policy cap it.
    EXPECT_EQ(largest(GiB, GiB, GiB, false), PageSize::k2MiB);
    EXPECT_EQ(largest(GiB, GiB, GiB, true, PageSize::k2MiB), PageSize::k2MiB);
    EXPECT_EQ(largest(GiB, GiB, GiB, true, PageSize::k4KiB), PageSize::k4KiB);
    EXPECT_EQ(mm::largest_page_size(VirtAddr(GiB), PhysAddr(GiB), GiB, mm::kKernelDataPolicy, true), PageSize::k4KiB);
    EXPECT_EQ(mm::largest_page_size(VirtAddr(GiB), PhysAddr(GiB), GiB, kAny1GiB, false), PageSize::k2MiB);
    // Address 0 is aligned to everything.
    EXPECT_EQ(largest(0, 0, GiB), PageSize::k1GiB);
}

// ---- PageTableBuilder: page sizes ------------------------------------------

TEST_F(PageTables, CreatePml4HandsOutAZeroedFrame) {
    for (const PageTableEntry& entry : memory_.table_at(pml4_)->entries) EXPECT_EQ(entry.raw(), 0u);
    EXPECT_EQ(frames_.handed_out().front(), pml4_);
    EXPECT_EQ(builder_.root(), pml4_);
}

TEST_F(PageTables, MapsOne4KiBPageThroughThreeNewTables) {
    EXPECT_EQ(map_ok(0x7000, 0xABC000, 4 * KiB), stats(1, 0, 0, 3));
    EXPECT_EQ(tables_allocated(), 3u);
    const mm::Translation t = at(0x7123);
    ASSERT_TRUE(t.present);
    EXPECT_EQ(t.pa, PhysAddr(0xABC123));
    EXPECT_EQ(t.page_size, PageSize::k4KiB);
    EXPECT_EQ(t.flags, mm::leaf_flags::kIdentityLowMemory);
    EXPECT_FALSE(at(0x6000).present);
    EXPECT_FALSE(at(0x8000).present);
}

TEST_F(PageTables, Maps2MiBPagesWhereBothAddressesAlign) {
    EXPECT_EQ(map_ok(4 * MiB, 64 * MiB, 6 * MiB), stats(0, 3, 0, 2));
    const mm::Translation t = at(4 * MiB + 2 * MiB + 0x12345);
    ASSERT_TRUE(t.present);
    EXPECT_EQ(t.pa, PhysAddr(66 * MiB + 0x12345));
    EXPECT_EQ(t.page_size, PageSize::k2MiB);
    EXPECT_EQ(t.flags, mm::leaf_flags::kIdentityLowMemory | pte::kHugePage);
    EXPECT_EQ(summary(t.flags, PageTableLevel::kPd), "P|RW|NX|PS");
}

TEST_F(PageTables, Maps1GiBPagesOnlyWhenTheCpuHasThem) {
    EXPECT_EQ(map_ok(GiB, 4 * GiB, 2 * GiB, mm::phys_window_policy()), stats(0, 0, 2, 1));
    const mm::Translation t = at(2 * GiB + 0x1234'5678);
    ASSERT_TRUE(t.present);
    EXPECT_EQ(t.pa, PhysAddr(5 * GiB + 0x1234'5678));
    EXPECT_EQ(t.page_size, PageSize::k1GiB);
    EXPECT_EQ(t.flags, mm::leaf_flags::kPhysWindow | pte::kHugePage);

    // The same shape and policy for a builder told the CPU has none: 2 MiB
    // pages, one page directory per GiB (and a PDPT under its own new PML4).
    mm::PageTableBuilder without(new_pml4(), memory_, frames_, /*cpu_has_1gib_pages=*/false);
    EXPECT_FALSE(without.cpu_has_1gib_pages());
    const mm::MapResult r = without.map_range(VirtAddr(8 * GiB), PhysAddr(8 * GiB), 2 * GiB, mm::phys_window_policy());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.mapped, stats(0, 1024, 0, 3));
    EXPECT_EQ(mm::translate(without.root(), memory_, VirtAddr(9 * GiB)).page_size, PageSize::k2MiB);
}

TEST_F(PageTables, FallsBackWhenOnlyOneAddressIsAligned) {
    // VA 2 MiB-aligned, PA only 4 KiB-aligned: nothing larger than 4 KiB fits.
    EXPECT_EQ(map_ok(2 * MiB, 0x1234'5000, 4 * MiB), stats(1024, 0, 0, 4));
    // PA 2 MiB-aligned, VA not: the same.
    EXPECT_EQ(map_ok(GiB + 4 * KiB, 2 * MiB, 2 * MiB), stats(512, 0, 0, 3));
    // Both 2 MiB-aligned, but only the VA 1 GiB-aligned: 2 MiB pages.
    EXPECT_EQ(map_ok(2 * GiB, 3 * GiB + 2 * MiB, GiB), stats(0, 512, 0, 1));
    // Both 1 GiB-aligned apart from the PA's 2 MiB: same again the other way round.
    EXPECT_EQ(map_ok(3 * GiB + 2 * MiB, 4 * GiB, 2 * MiB), stats(0, 1, 0, 1));
    EXPECT_EQ(at(2 * GiB + 0x10).pa, PhysAddr(3 * GiB + 2 * MiB + 0x10));
}

TEST_F(PageTables, Uses4KiBPagesOnlyAtTheEdges) {
    // [4 KiB, 2 MiB) 511 small pages, [2 MiB, 1 GiB) 511 large, [1 GiB, 3 GiB) two huge,
    // [3 GiB, 3 GiB + 12 KiB) three small.
    const uint64_t end = 3 * GiB + 12 * KiB;
    EXPECT_EQ(map_ok(4 * KiB, 4 * KiB, end - 4 * KiB), stats(514, 511, 2, 5));
    EXPECT_FALSE(at(0).present);  // page 0 stays unmapped
    EXPECT_EQ(at(4 * KiB).page_size, PageSize::k4KiB);
    EXPECT_EQ(at(2 * MiB - 1).page_size, PageSize::k4KiB);
    EXPECT_EQ(at(2 * MiB).page_size, PageSize::k2MiB);
    EXPECT_EQ(at(GiB - 1).page_size, PageSize::k2MiB);
    EXPECT_EQ(at(GiB).page_size, PageSize::k1GiB);
    EXPECT_EQ(at(3 * GiB).page_size, PageSize::k4KiB);
    EXPECT_EQ(at(end - 1).pa, PhysAddr(end - 1));
    EXPECT_FALSE(at(end).present);
}

TEST_F(PageTables, ForcesKernelSectionsTo4KiB) {
    // 2 MiB-aligned on both sides, still mapped with 4 KiB pages: section
    // boundaries inside a large page would share its rights.
    EXPECT_EQ(map_ok(kKernelBase, 2 * MiB, 4 * MiB, mm::kKernelTextPolicy), stats(1024, 0, 0, 4));
    EXPECT_EQ(map_ok(kKernelBase + 4 * MiB, 6 * MiB, 8 * KiB, mm::kKernelRodataPolicy), stats(2, 0, 0, 1));
    EXPECT_EQ(map_ok(kKernelBase + 4 * MiB + 8 * KiB, 6 * MiB + 8 * KiB, 4 * KiB, mm::kKernelDataPolicy),
              stats(1, 0, 0, 0));
    EXPECT_EQ(at(kKernelBase).flags, pte::kPresent);
    EXPECT_EQ(at(kKernelBase + 4 * MiB).flags, pte::kPresent | pte::kNoExecute);
    EXPECT_EQ(at(kKernelBase + 4 * MiB + 8 * KiB).flags, pte::kPresent | pte::kWritable | pte::kNoExecute);
    EXPECT_EQ(builder_.stats(), stats(1027, 0, 0, 5));
}

// ---- PageTableBuilder: exactly the tables needed ----------------------------

TEST_F(PageTables, CreatesTheMinimumTablesAcross2MiBBoundaries) {
    // Two small pages either side of 2 MiB: one PDPT, one PD, two PTs.
    EXPECT_EQ(map_ok(2 * MiB - 4 * KiB, 0x30'0000, 8 * KiB), stats(2, 0, 0, 4));
    EXPECT_EQ(tables_allocated(), 4u);
}

TEST_F(PageTables, CreatesTheMinimumTablesAcross1GiBBoundaries) {
    // 2 MiB pages either side of 1 GiB: one PDPT, two PDs.
    EXPECT_EQ(map_ok(GiB - 2 * MiB, GiB - 2 * MiB, 4 * MiB), stats(0, 2, 0, 3));
    // Small pages either side of 2 GiB: a PT in the existing PD below, a new
    // PD and a PT above.
    EXPECT_EQ(map_ok(2 * GiB - 4 * KiB, 0x5000, 8 * KiB), stats(2, 0, 0, 3));
    EXPECT_EQ(tables_allocated(), 6u);
}

TEST_F(PageTables, CreatesTheMinimumTablesAcross512GiBBoundaries) {
    // One PML4 entry covers 512 GiB: a PDPT and a PD on each side.
    EXPECT_EQ(map_ok(k512GiB - 2 * MiB, 0, 4 * MiB), stats(0, 2, 0, 4));
    EXPECT_EQ(at(k512GiB - 1).pa, PhysAddr(2 * MiB - 1));
    EXPECT_EQ(at(k512GiB).pa, PhysAddr(2 * MiB));
    // 1 GiB pages either side of 1 TiB: the PDPT below exists, one above is new.
    EXPECT_EQ(map_ok(2 * k512GiB - GiB, 0, 2 * GiB, kAny1GiB), stats(0, 0, 2, 1));
    // Upper half, across the last PML4 boundary below the kernel.
    EXPECT_EQ(map_ok(0xFFFF'FF80'0000'0000ull - 4 * KiB, 0x9000, 8 * KiB), stats(2, 0, 0, 6));
    EXPECT_EQ(tables_allocated(), 11u);
}

TEST_F(PageTables, ReusesExistingTablesAndCountsNone) {
    ASSERT_EQ(map_ok(GiB, GiB, 4 * KiB), stats(1, 0, 0, 3));
    EXPECT_EQ(map_ok(GiB + 4 * KiB, 0x7000'0000, 8 * KiB), stats(2, 0, 0, 0));
    EXPECT_EQ(map_ok(GiB + 2 * MiB, GiB + 2 * MiB, 2 * MiB), stats(0, 1, 0, 0));
    EXPECT_EQ(tables_allocated(), 3u);
}

TEST_F(PageTables, FillsAnExistingTableWhereALargePageWouldGo) {
    // An empty page directory already sits in the slot of the 1 GiB page at
    // 1 GiB (a later chapter's unmap can leave one): it is kept and filled
    // with 2 MiB pages instead of being overwritten, and its small page stays.
    ASSERT_EQ(map_ok(GiB + 10 * MiB, 0x4000, 4 * KiB), stats(1, 0, 0, 3));
    EXPECT_EQ(map_ok(GiB, GiB, 10 * MiB), stats(0, 5, 0, 0));
    EXPECT_EQ(map_ok(GiB + 12 * MiB, GiB + 12 * MiB, GiB - 12 * MiB), stats(0, 506, 0, 0));
    EXPECT_EQ(at(GiB + 10 * MiB).pa, PhysAddr(0x4000));
    EXPECT_EQ(at(GiB + 12 * MiB).page_size, PageSize::k2MiB);
}

TEST_F(PageTables, FillsAnEmptyDirectoryInA1GiBSlot) {
    // A 1 GiB-capable mapping meets an empty, existing page directory.
    ASSERT_EQ(map_ok(0, 0, 2 * MiB), stats(0, 1, 0, 2));
    const mm::FrameResult pd = frames_.alloc_page_table_frame();
    ASSERT_TRUE(pd.ok());
    for (PageTableEntry& entry : memory_.table_at(pd.frame())->entries) entry.clear();
    const PhysAddr pdpt = memory_.table_at(pml4_)->entries[0].address();
    memory_.table_at(pdpt)->entries[1].set(PageTableLevel::kPdpt, pd.frame(), mm::kTableEntryFlags);

    EXPECT_EQ(map_ok(GiB, GiB, 2 * GiB, kAny1GiB), stats(0, 512, 1, 0));
    EXPECT_EQ(at(GiB).page_size, PageSize::k2MiB);
    EXPECT_EQ(at(2 * GiB).page_size, PageSize::k1GiB);
}

TEST_F(PageTables, InstallsIntermediateEntriesAsPresentAndWritableOnly) {
    ASSERT_TRUE(map(kKernelBase, 0x10'0000, 4 * KiB, mm::kKernelRodataPolicy).ok());
    PhysAddr table = pml4_;
    for (PageTableLevel level : {PageTableLevel::kPml4, PageTableLevel::kPdpt, PageTableLevel::kPd}) {
        const PageTableEntry entry = (*memory_.table_at(table))[mm::index_at(VirtAddr(kKernelBase), level)];
        EXPECT_EQ(entry.flags(level), mm::kTableEntryFlags);
        table = entry.address();
    }
}

TEST_F(PageTables, ZeroesEveryNewTableBeforeUse) {
    // The fake memory starts as 0xA5 garbage: after mapping, each table holds
    // exactly the entries the mapping needed and zero everywhere else.
    ASSERT_TRUE(map(kKernelBase, 0x10'0000, 8 * KiB, mm::kKernelDataPolicy).ok());
    ASSERT_EQ(tables_allocated(), 3u);
    for (size_t i = 0; i < frames_.handed_out().size(); ++i) {
        int nonzero = 0;
        for (const PageTableEntry& entry : memory_.table_at(frames_.handed_out()[i])->entries)
            nonzero += entry.raw() != 0;
        EXPECT_EQ(nonzero, i == 3 ? 2 : 1) << "table " << i;  // the PT holds both pages
    }
}

// ---- PageTableBuilder: refusals change nothing --------------------------------

TEST_F(PageTables, RefusesBadInputByName) {
    ASSERT_TRUE(map(GiB, GiB, 4 * MiB).ok());
    expect_refused(MapStatus::kZeroLength, 0x1000, 0x1000, 0);
    expect_refused(MapStatus::kMisalignedVirtual, 0x1001, 0x1000, 4 * KiB);
    expect_refused(MapStatus::kMisalignedPhysical, 0x1000, 0x1800, 4 * KiB);
    expect_refused(MapStatus::kMisalignedLength, 0x1000, 0x1000, 4 * KiB + 1);
    expect_refused(MapStatus::kNonCanonical, 0x0000'8000'0000'0000ull, 0, 4 * KiB);
    expect_refused(MapStatus::kNonCanonical, 0xFFFF'7FFF'FFFF'F000ull, 0, 4 * KiB);
    expect_refused(MapStatus::kVirtualWraps, 0xFFFF'FFFF'FFFF'F000ull, 0, 8 * KiB);
    expect_refused(MapStatus::kPhysicalBeyondLimit, 0x1000, PhysAddr::kLimit, 4 * KiB);
    expect_refused(MapStatus::kPhysicalBeyondLimit, 0x1000, PhysAddr::kLimit - 4 * KiB, 8 * KiB);
    expect_refused(MapStatus::kPhysicalBeyondLimit, 0x1000, ~0ull & ~0xFFFull, 8 * KiB);
}

TEST_F(PageTables, RefusesARangeRunningIntoTheNonCanonicalHole) {
    const uint64_t last_low_page = 0x0000'7FFF'FFFF'F000ull;
    const mm::MapResult result = map(last_low_page, 0, 8 * KiB);
    EXPECT_EQ(result.status, MapStatus::kNonCanonical);
    EXPECT_EQ(result.where, VirtAddr(0x0000'8000'0000'0000ull));
    expect_refused(MapStatus::kNonCanonical, last_low_page, 0, 8 * KiB);
    EXPECT_EQ(map_ok(last_low_page, 0, 4 * KiB), stats(1, 0, 0, 3));  // the last page itself is fine
}

TEST_F(PageTables, RefusesToRemapAPresentPage) {
    ASSERT_TRUE(map(GiB + 8 * KiB, 0x8000, 4 * KiB).ok());
    // Free pages before the present one are not mapped either: all or nothing.
    const mm::MapResult result = map(GiB, 0x1000'0000, 16 * KiB);
    EXPECT_EQ(result.status, MapStatus::kAlreadyMapped);
    EXPECT_EQ(result.where, VirtAddr(GiB + 8 * KiB));
    expect_refused(MapStatus::kAlreadyMapped, GiB, 0x1000'0000, 16 * KiB);
    EXPECT_FALSE(at(GiB).present);

    ASSERT_TRUE(map(4 * GiB, 4 * GiB, 2 * MiB).ok());
    expect_refused(MapStatus::kAlreadyMapped, 4 * GiB, 6 * GiB, 2 * MiB);  // large page onto large page
}

TEST_F(PageTables, RefusesToWalkThroughALargePage) {
    ASSERT_TRUE(map(2 * MiB, 2 * MiB, 2 * MiB).ok());
    const mm::MapResult result = map(3 * MiB, 0x5000, 4 * KiB);
    EXPECT_EQ(result.status, MapStatus::kHugePageInTheWay);
    EXPECT_EQ(result.where, VirtAddr(3 * MiB));
    expect_refused(MapStatus::kHugePageInTheWay, 3 * MiB, 0x5000, 4 * KiB);

    ASSERT_TRUE(map(4 * GiB, 4 * GiB, GiB, kAny1GiB).ok());
    expect_refused(MapStatus::kHugePageInTheWay, 4 * GiB + 2 * MiB, 0, 2 * MiB);  // 2 MiB inside 1 GiB
    expect_refused(MapStatus::kHugePageInTheWay, 5 * GiB - 4 * KiB, 0, 4 * KiB);  // 4 KiB inside 1 GiB
    EXPECT_EQ(at(3 * MiB).pa, PhysAddr(3 * MiB));  // the large pages are untouched
    EXPECT_EQ(at(4 * GiB + 2 * MiB).pa, PhysAddr(4 * GiB + 2 * MiB));
}

TEST_F(PageTables, DetectsRunningOutOfTableFramesBeforeAnyChange) {
    // The layout of Uses4KiBPagesOnlyAtTheEdges needs 5 tables.
    const uint64_t length = 3 * GiB + 8 * KiB;
    frames_.set_page_table_budget(4);
    const mm::MapResult result = map(4 * KiB, 4 * KiB, length);
    EXPECT_EQ(result.status, MapStatus::kOutOfTableFrames);
    EXPECT_EQ(result.where, VirtAddr(4 * KiB));
    expect_refused(MapStatus::kOutOfTableFrames, 4 * KiB, 4 * KiB, length);
    frames_.set_page_table_budget(5);
    EXPECT_EQ(map_ok(4 * KiB, 4 * KiB, length), stats(514, 511, 2, 5));
    EXPECT_EQ(frames_.page_table_frames_available(), 0u);
    // With no frame left, a mapping that needs no new table still succeeds.
    EXPECT_EQ(map_ok(3 * GiB + 12 * KiB, 0, 8 * KiB), stats(2, 0, 0, 0));
    expect_refused(MapStatus::kOutOfTableFrames, 8 * GiB, 0, 4 * KiB);
}

TEST(MapStatus, DescribesEveryRefusalDifferently) {
    std::set<std::string> texts;
    for (int s = int(MapStatus::kOk); s <= int(MapStatus::kOutsideRegion); ++s) {
        const std::string text = mm::describe(MapStatus(s));
        EXPECT_FALSE(text.empty());
        EXPECT_EQ(text.find('\n'), std::string::npos);
        texts.insert(text);
    }
    EXPECT_EQ(texts.size(), size_t(MapStatus::kOutsideRegion) + 1);
}

TEST(MapStats, CountsPagesAndBytes) {
    MapStats s = stats(3, 2, 1, 4);
    EXPECT_EQ(s.pages(PageSize::k2MiB), 2u);
    EXPECT_EQ(s.bytes_mapped(), 3 * 4 * KiB + 2 * 2 * MiB + GiB);
    s.count_page(PageSize::k1GiB);
    s += stats(1, 1, 1, 1);
    EXPECT_EQ(s, stats(4, 3, 3, 5));
}

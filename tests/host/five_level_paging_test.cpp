// The page-table library at both depths, over a fake physical memory: the
// 48-bit and 57-bit canonical rules, the PML5 index, a 5-level address space
// built above 2^47 and walked back (translate(), the walker, the tables'
// own entries), and the audit's verdicts at 4 and at 5 levels. Chapter 16
// adds the phase that uses this; until then every caller builds 4 levels.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "arch/x86/paging_bits.h"
#include "fake_physical_memory.h"
#include "mm/address_space_audit.h"
#include "mm/cpu_paging_features.h"
#include "mm/mapping_policy.h"
#include "mm/page_table_builder.h"
#include "mm/page_table_index.h"
#include "mm/page_table_lookup.h"
#include "mm/page_table_walker.h"
#include "mm/paging_depth.h"
#include "mm/phys_window.h"
#include "mm/virt_addr.h"

using mm::AuditRule;
using mm::MappingPolicy;
using mm::MapStatus;
using mm::PageSize;
using mm::PageTableLevel;
using mm::PagingDepth;
using mm::PhysAddr;
using mm::VirtAddr;
namespace pte = x86::pte;

namespace mm {
// So that a parameterized test prints "5-level", not the enum's byte.
void PrintTo(PagingDepth depth, std::ostream* out) { *out << name(depth); }
}  // namespace mm

namespace {

constexpr PagingDepth k4 = PagingDepth::kFourLevel;
constexpr PagingDepth k5 = PagingDepth::kFiveLevel;

// The addresses the 5-level tests map, none of which 4-level paging can name.
constexpr uint64_t kAbove47 = 0x0080'0000'0000'0000ull;       // 2^55: PML5 entry 128
constexpr uint64_t kLowerTop = 0x00FF'FFFF'FFFF'F000ull;      // the last page of the 57-bit lower half
constexpr uint64_t kUpperBottom = 0xFF00'0000'0000'0000ull;   // the first address of the 57-bit upper half
constexpr uint64_t kUpperTop = 0xFFFF'FFFF'FFFF'F000ull;      // the last page of all
constexpr uint64_t kPastLowerHalf = 0x0100'0000'0000'0000ull; // 2^56: the hole's first address at 5 levels

constexpr mm::CpuPagingFeatures kCpu{true, true};
const MappingPolicy kDataPolicy = mm::fit_to_cpu(mm::kKernelDataPolicy, kCpu);
const MappingPolicy kTextPolicy = mm::fit_to_cpu(mm::kKernelTextPolicy, kCpu);
const MappingPolicy kWindowPolicy = mm::fit_to_cpu(mm::phys_window_policy(), kCpu);

// A linear address put together from its five indices, the way SDM Vol. 3A,
// 4.5 cuts it (bits 56:48, 47:39, 38:30, 29:21, 20:12), sign-extended from bit 56.
uint64_t compose(unsigned pml5, unsigned pml4, unsigned pdpt, unsigned pd, unsigned pt, unsigned offset) {
    uint64_t va = uint64_t(pml5) << 48 | uint64_t(pml4) << 39 | uint64_t(pdpt) << 30 | uint64_t(pd) << 21 |
                  uint64_t(pt) << 12 | offset;
    if (pml5 >= 256) va |= 0xFE00'0000'0000'0000ull;
    return va;
}

// ---- canonical addresses ------------------------------------------------------

TEST(FiveLevelPaging, CanonicalRulesAtBothDepths) {
    struct Case {
        uint64_t va;
        bool at_4, at_5;
    };
    const Case cases[] = {
        {0x0000'0000'0000'0000ull, true, true},
        {0x0000'7FFF'FFFF'FFFFull, true, true},    // top of the 48-bit lower half
        {0x0000'8000'0000'0000ull, false, true},   // bit 47 set, 63..48 clear: only 57 bits can name it
        {kAbove47, false, true},
        {0x00FF'FFFF'FFFF'FFFFull, false, true},   // top of the 57-bit lower half
        {kPastLowerHalf, false, false},            // bit 56 set, 63..57 clear: non-canonical at both
        {0x8000'0000'0000'0000ull, false, false},
        {0xFEFF'FFFF'FFFF'FFFFull, false, false},  // bit 56 clear under ones
        {kUpperBottom, false, true},               // bottom of the 57-bit upper half
        {0xFFFF'7FFF'FFFF'FFFFull, false, true},   // bit 47 clear under ones: only 57 bits can name it
        {0xFFFF'8000'0000'0000ull, true, true},    // bottom of the 48-bit upper half
        {0xFFFF'FFFF'FFFF'FFFFull, true, true},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(VirtAddr(c.va).is_canonical(k4), c.at_4) << std::hex << c.va;
        EXPECT_EQ(VirtAddr(c.va).is_canonical(k5), c.at_5) << std::hex << c.va;
        EXPECT_EQ(VirtAddr(c.va).is_canonical(), c.at_4) << std::hex << c.va;  // the default is 4 levels
    }
}

TEST(FiveLevelPaging, EveryFortyEightBitCanonicalAddressIsFiftySevenBitCanonical) {
    // Bits 63..47 equal implies bits 63..56 equal, so no address is canonical
    // at 4 levels and not at 5; the other way round, the table above has many.
    std::mt19937_64 random(57);
    for (int i = 0; i < 100000; ++i) {
        uint64_t va = random();
        if (i % 2) va = (va & 0x0000'FFFF'FFFF'FFFFull) | ((va & (1ull << 47)) != 0 ? 0xFFFF'0000'0000'0000ull : 0);
        if (VirtAddr(va).is_canonical(k4)) {
            ASSERT_TRUE(VirtAddr(va).is_canonical(k5)) << std::hex << va;
        }
    }
}

// ---- indices --------------------------------------------------------------------

TEST(FiveLevelPaging, EveryLevelsIndexComesFromItsOwnNineBits) {
    const unsigned pml5 = 300, pml4 = 17, pdpt = 42, pd = 99, pt = 7;
    const VirtAddr va(compose(pml5, pml4, pdpt, pd, pt, 0x123));
    ASSERT_TRUE(va.is_canonical(k5));
    EXPECT_EQ(mm::index_at(va, PageTableLevel::kPml5).value(), pml5);
    EXPECT_EQ(mm::index_at(va, PageTableLevel::kPml4).value(), pml4);
    EXPECT_EQ(mm::index_at(va, PageTableLevel::kPdpt).value(), pdpt);
    EXPECT_EQ(mm::index_at(va, PageTableLevel::kPd).value(), pd);
    EXPECT_EQ(mm::index_at(va, PageTableLevel::kPt).value(), pt);

    // Literal cases, each PML5 index worked out by hand from bits 56:48.
    EXPECT_EQ(mm::index_at(VirtAddr(kAbove47), PageTableLevel::kPml5).value(), 128u);
    EXPECT_EQ(mm::index_at(VirtAddr(0x0000'8000'0000'0000ull), PageTableLevel::kPml5).value(), 0u);
    EXPECT_EQ(mm::index_at(VirtAddr(0x0000'8000'0000'0000ull), PageTableLevel::kPml4).value(), 256u);
    EXPECT_EQ(mm::index_at(VirtAddr(0x0001'0000'0000'0000ull), PageTableLevel::kPml5).value(), 1u);
    EXPECT_EQ(mm::index_at(VirtAddr(kLowerTop), PageTableLevel::kPml5).value(), 255u);
    EXPECT_EQ(mm::index_at(VirtAddr(kUpperBottom), PageTableLevel::kPml5).value(), 256u);
    EXPECT_EQ(mm::index_at(VirtAddr(kUpperBottom), PageTableLevel::kPml4).value(), 0u);
    EXPECT_EQ(mm::index_at(VirtAddr(0xFFFF'FFFF'8000'0000ull), PageTableLevel::kPml5).value(), 511u);
    EXPECT_EQ(mm::index_at(VirtAddr(0xFFFF'FFFF'8000'0000ull), PageTableLevel::kPml4).value(), 511u);
}

TEST(FiveLevelPaging, TheRootLevelAndItsSpan) {
    EXPECT_EQ(mm::root_level(k4), PageTableLevel::kPml4);
    EXPECT_EQ(mm::root_level(k5), PageTableLevel::kPml5);
    EXPECT_EQ(mm::entry_span(PageTableLevel::kPml4), 512 * GiB);
    EXPECT_EQ(mm::entry_span(PageTableLevel::kPml5), 256ull * 1024 * GiB);  // 2^48: a whole 4-level space
    EXPECT_EQ(mm::next_lower(PageTableLevel::kPml5), PageTableLevel::kPml4);
    EXPECT_FALSE(mm::can_be_leaf(PageTableLevel::kPml5));
    EXPECT_FALSE(mm::can_be_leaf(PageTableLevel::kPml4));
    EXPECT_TRUE(mm::can_be_leaf(PageTableLevel::kPdpt));
    EXPECT_EQ(mm::translated_bits(k4), 48u);
    EXPECT_EQ(mm::translated_bits(k5), 57u);
    EXPECT_STREQ(mm::name(k5), "5-level");
}

TEST(FiveLevelPaging, AnEntrysAddressIsSignExtendedFromTheDepthsTopBit) {
    EXPECT_EQ(mm::entry_va(VirtAddr(0), PageTableLevel::kPml5, 256, k5), VirtAddr(kUpperBottom));
    EXPECT_EQ(mm::entry_va(VirtAddr(0), PageTableLevel::kPml5, 511, k5), VirtAddr(0xFFFF'0000'0000'0000ull));
    EXPECT_EQ(mm::entry_va(VirtAddr(0), PageTableLevel::kPml5, 128, k5), VirtAddr(kAbove47));
    EXPECT_EQ(mm::entry_va(VirtAddr(0), PageTableLevel::kPml4, 256, k5), VirtAddr(0x0000'8000'0000'0000ull));
    EXPECT_EQ(mm::entry_va(VirtAddr(0), PageTableLevel::kPml4, 256, k4), VirtAddr(0xFFFF'8000'0000'0000ull));
}

TEST(FiveLevelPaging, PsIsRefusedInAPml5Entry) {
    mm::PageTableEntry e;
    volatile uint64_t pa = 0x20'0000;
    EXPECT_DEATH(e.set(PageTableLevel::kPml5, PhysAddr(pa), pte::kPresent | pte::kHugePage), "kPml4");
}

// ---- a 5-level address space ---------------------------------------------------

class FiveLevelSpace : public ::testing::Test {
protected:
    FiveLevelSpace()
        : memory_(PhysAddr(16 * MiB + 12 * KiB), 64), frames_(memory_), root_(new_root()),
          builder_(root_, memory_, frames_, kCpu.pages_1gib, k5), walker_(root_, memory_, k5) {}

    PhysAddr new_root() {
        const mm::FrameResult frame = mm::PageTableBuilder::create_pml4(memory_, frames_);
        EXPECT_TRUE(frame.ok());
        return frame.frame();
    }
    mm::MapResult map(uint64_t va, uint64_t pa, uint64_t length, const MappingPolicy& policy) {
        return builder_.map_range(VirtAddr(va), PhysAddr(pa), length, policy);
    }
    mm::PageTable& root() { return *memory_.table_at(root_); }

    FakePhysicalMemory memory_;
    FakeFrameSource frames_;
    PhysAddr root_;
    mm::PageTableBuilder builder_;
    mm::PageTableWalker walker_;
};

TEST_F(FiveLevelSpace, MapsAbove2To47AndWalksItBack) {
    ASSERT_TRUE(map(kAbove47, 0x30'0000, 8 * KiB, kDataPolicy).ok());
    ASSERT_TRUE(map(kAbove47 + 2 * MiB, 0x40'0000, 2 * MiB, kWindowPolicy).ok());
    ASSERT_TRUE(map(kLowerTop, 0x50'0000, 4 * KiB, kDataPolicy).ok());
    ASSERT_TRUE(map(kUpperBottom, GiB, GiB, kWindowPolicy).ok());
    ASSERT_TRUE(map(kUpperTop, 0x60'0000, 4 * KiB, kTextPolicy).ok());
    EXPECT_EQ(builder_.depth(), k5);
    EXPECT_EQ(builder_.root(), root_);

    // Tables: under PML5 128 a PML4, PDPT, PD and PT (the 2 MiB page shares
    // the PD); under 255 and under 511 four each; under 256 a PML4 and a PDPT.
    EXPECT_EQ(builder_.stats().tables_created, 4u + 4u + 2u + 4u);
    EXPECT_EQ(builder_.stats().pages_4k, 4u);
    EXPECT_EQ(builder_.stats().pages_2m, 1u);
    EXPECT_EQ(builder_.stats().pages_1g, 1u);

    // The root's own entries: exactly the four PML5 slots the addresses name.
    std::vector<unsigned> present;
    for (unsigned i = 0; i < 512; ++i)
        if (root().entries[i].present()) present.push_back(i);
    EXPECT_EQ(present, (std::vector<unsigned>{128, 255, 256, 511}));

    struct Expect {
        uint64_t va, pa;
        PageSize size;
    };
    const Expect pages[] = {
        {kAbove47 + 0x123, 0x30'0123, PageSize::k4KiB},
        {kAbove47 + 4 * KiB + 8, 0x30'1008, PageSize::k4KiB},
        {kAbove47 + 2 * MiB + 0x1'2345, 0x41'2345, PageSize::k2MiB},
        {kLowerTop + 0xFFF, 0x50'0FFF, PageSize::k4KiB},
        {kUpperBottom + 0x1234'5678, GiB + 0x1234'5678, PageSize::k1GiB},
        {kUpperTop + 0x10, 0x60'0010, PageSize::k4KiB},
    };
    for (const Expect& p : pages) {
        const mm::Translation t = mm::translate(root_, memory_, VirtAddr(p.va), k5);
        ASSERT_TRUE(t.present) << std::hex << p.va;
        EXPECT_EQ(t.pa, PhysAddr(p.pa)) << std::hex << p.va;
        EXPECT_EQ(t.page_size, p.size) << std::hex << p.va;
        const mm::Lookup at = walker_.translate(VirtAddr(p.va));
        ASSERT_TRUE(at.present) << std::hex << p.va;
        EXPECT_EQ(at.leaf.pa + (p.va - at.leaf.va.value()), PhysAddr(p.pa));
        EXPECT_EQ(at.level, mm::leaf_level(p.size));
        // Read as 4-level tables, the addresses above 2^47 are not canonical.
        if (!VirtAddr(p.va).is_canonical(k4)) {
            EXPECT_FALSE(mm::translate(root_, memory_, VirtAddr(p.va)).present) << std::hex << p.va;
        }
    }
    // The top page is canonical at either depth, but read one level short the
    // walk takes the PD's entry for a PTE and lands on the page table itself:
    // the depth belongs to the address space, not to the reader.
    const mm::Translation short_walk = mm::translate(root_, memory_, VirtAddr(kUpperTop));
    ASSERT_TRUE(short_walk.present);
    EXPECT_EQ(short_walk.pa, walker_.translate(VirtAddr(kUpperTop)).leaf.table);
    EXPECT_FALSE(mm::translate(root_, memory_, VirtAddr(kAbove47 + 8 * KiB), k5).present);
    EXPECT_FALSE(mm::translate(root_, memory_, VirtAddr(kPastLowerHalf), k5).present);
}

TEST_F(FiveLevelSpace, TheWalkSeesEveryLevelFromThePml5Down) {
    ASSERT_TRUE(map(kLowerTop, 0x50'0000, 4 * KiB, kDataPolicy).ok());
    ASSERT_TRUE(map(kUpperTop, 0x60'0000, 4 * KiB, kTextPolicy).ok());

    struct Collect final : mm::PageTableVisitor {
        bool enter_table(const mm::TableVisit& t) override {
            tables.push_back(t);
            return true;
        }
        void leaf(const mm::Leaf& l) override { leaves.push_back(l); }
        void stray_entry(const mm::StrayEntry& s) override { strays.push_back(s); }
        std::vector<mm::TableVisit> tables;
        std::vector<mm::Leaf> leaves;
        std::vector<mm::StrayEntry> strays;
    } c;
    walker_.walk(c);
    ASSERT_EQ(c.tables.size(), 1u + 4u + 4u);
    EXPECT_EQ(c.tables[0].level, PageTableLevel::kPml5);
    EXPECT_EQ(c.tables[0].frame, root_);
    const PageTableLevel down[] = {PageTableLevel::kPml4, PageTableLevel::kPdpt, PageTableLevel::kPd,
                                   PageTableLevel::kPt};
    for (unsigned i = 0; i < 4; ++i) {
        EXPECT_EQ(c.tables[1 + i].level, down[i]);
        EXPECT_EQ(c.tables[5 + i].level, down[i]);
    }
    // Each table's first address, canonical at 57 bits: the lower half's last
    // PML5 slot, then the upper half's.
    EXPECT_EQ(c.tables[1].va, VirtAddr(0x00FF'0000'0000'0000ull));
    EXPECT_EQ(c.tables[5].va, VirtAddr(0xFFFF'0000'0000'0000ull));
    ASSERT_EQ(c.leaves.size(), 2u);
    EXPECT_EQ(c.leaves[0].va, VirtAddr(kLowerTop));
    EXPECT_EQ(c.leaves[1].va, VirtAddr(kUpperTop));
    EXPECT_EQ(c.leaves[1].pa, PhysAddr(0x60'0000));
    EXPECT_TRUE(c.strays.empty());
}

TEST_F(FiveLevelSpace, RefusesWhatFiftySevenBitsCannotName) {
    const auto before = memory_.snapshot();
    const mm::MapResult past = map(kPastLowerHalf, 0x30'0000, 4 * KiB, kDataPolicy);
    EXPECT_EQ(past.status, MapStatus::kNonCanonical);
    EXPECT_EQ(past.where, VirtAddr(kPastLowerHalf));
    // A range from the lower half's last page into the hole: refused where the hole begins.
    const mm::MapResult across = map(kLowerTop, 0x30'0000, 8 * KiB, kDataPolicy);
    EXPECT_EQ(across.status, MapStatus::kNonCanonical);
    EXPECT_EQ(across.where, VirtAddr(kPastLowerHalf));
    EXPECT_EQ(memory_.snapshot(), before);  // nothing written
    EXPECT_EQ(builder_.prepare_page_table(VirtAddr(kPastLowerHalf)).status, MapStatus::kNonCanonical);
    EXPECT_NE(std::string(mm::describe(MapStatus::kNonCanonical)).find("canonical"), std::string::npos);
}

TEST_F(FiveLevelSpace, PreparesAPageTableFiveLevelsDown) {
    const mm::TableResult prepared = builder_.prepare_page_table(VirtAddr(kAbove47));
    ASSERT_TRUE(prepared.ok());
    EXPECT_EQ(prepared.tables_created, 4u);  // PML4, PDPT, PD, PT
    const mm::Lookup at = walker_.translate(VirtAddr(kAbove47));
    EXPECT_FALSE(at.present);
    EXPECT_EQ(at.level, PageTableLevel::kPt);  // the walk reached the new PT's empty slot
    EXPECT_TRUE(root().entries[128].present());
}

TEST(FiveLevelPaging, AFourLevelBuilderRefusesAddressesAbove2To47) {
    FakePhysicalMemory memory(PhysAddr(16 * MiB), 8);
    FakeFrameSource frames(memory);
    const PhysAddr pml4 = mm::PageTableBuilder::create_pml4(memory, frames).frame();
    mm::PageTableBuilder builder(pml4, memory, frames, true);
    EXPECT_EQ(builder.depth(), k4);
    EXPECT_EQ(builder.map_range(VirtAddr(kAbove47), PhysAddr(0), 4 * KiB, kDataPolicy).status, MapStatus::kNonCanonical);
    EXPECT_EQ(builder.map_range(VirtAddr(kUpperBottom), PhysAddr(0), 4 * KiB, kDataPolicy).status,
              MapStatus::kNonCanonical);
}

// ---- the audit at both depths ----------------------------------------------------

// One address space per depth with the same three regions, all at addresses
// both depths can name (the kernel half of the 4-level layout, which a
// 5-level space keeps under its PML5 entry 511), plus, at 5 levels, one
// region above 2^47.
class AuditAtDepth : public ::testing::TestWithParam<PagingDepth> {
protected:
    static constexpr uint64_t kWindow = 0xFFFF'8000'0000'0000ull;
    static constexpr uint64_t kImage = 0xFFFF'FFFF'8000'1000ull;

    AuditAtDepth()
        : memory_(PhysAddr(16 * MiB + 12 * KiB), 64), frames_(memory_),
          root_(mm::PageTableBuilder::create_pml4(memory_, frames_).frame()),
          builder_(root_, memory_, frames_, kCpu.pages_1gib, GetParam()), walker_(root_, memory_, GetParam()) {
        add(mm::expect_mapped("window", VirtAddr(kWindow + GiB), PhysAddr(GiB), GiB, kWindowPolicy));
        add(mm::expect_mapped("text", VirtAddr(kImage), PhysAddr(0x20'0000), 12 * KiB, kTextPolicy));
        regions_.push_back(mm::expect_absent("guard", VirtAddr(kImage - 4 * KiB), 4 * KiB));
        if (GetParam() == k5) add(mm::expect_mapped("high", VirtAddr(kUpperBottom), PhysAddr(0x30'0000), 8 * KiB, kDataPolicy));
    }
    void add(const mm::RegionExpectation& r) {
        ASSERT_TRUE(builder_.map_range(r.va, r.pa, r.size, r.policy).ok()) << r.name;
        regions_.push_back(r);
    }
    struct Findings final : mm::FindingSink {
        void found(const mm::Finding& f) override { all.push_back(f); }
        std::vector<AuditRule> rules() const {
            std::vector<AuditRule> out;
            for (const mm::Finding& f : all) out.push_back(f.rule);
            return out;
        }
        std::vector<mm::Finding> all;
    };
    mm::AuditCounts audit(Findings& findings) {
        return mm::audit_address_space(walker_, regions_.data(), regions_.size(), true, findings);
    }
    mm::PageTable& root() { return *memory_.table_at(root_); }

    FakePhysicalMemory memory_;
    FakeFrameSource frames_;
    PhysAddr root_;
    mm::PageTableBuilder builder_;
    mm::PageTableWalker walker_;
    std::vector<mm::RegionExpectation> regions_;
};

TEST_P(AuditAtDepth, ACleanSpacePassesEveryRegionAndTheAudit) {
    Findings findings;
    for (const mm::RegionExpectation& r : regions_)
        EXPECT_TRUE(mm::check_region(walker_, r, kCpu, findings).ok) << r.name;
    const mm::AuditCounts counts = audit(findings);
    EXPECT_TRUE(counts.ok());
    EXPECT_EQ(counts.leaves, GetParam() == k5 ? 1u + 3u + 2u : 1u + 3u);
    EXPECT_EQ(counts.tables, 1 + builder_.stats().tables_created);
    EXPECT_TRUE(findings.all.empty());
}

TEST_P(AuditAtDepth, PsInTheRootEntryIsMalformedAndNamedByItsLevel) {
    root().entries[10] = mm::PageTableEntry::from_raw(pte::kPresent | pte::kHugePage);
    Findings findings;
    EXPECT_EQ(audit(findings).malformed, 1u);
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{GetParam() == k5 ? AuditRule::kPsInPml5e : AuditRule::kPsInPml4e});
    // The entry's first address: 10 root entries up, in the lower half at either depth.
    EXPECT_EQ(findings.all[0].va, VirtAddr(10 * mm::entry_span(mm::root_level(GetParam()))));
    EXPECT_STREQ(findings.all[0].region, "lower-half");
    EXPECT_FALSE(mm::translate(root_, memory_, findings.all[0].va, GetParam()).present);  // the CPU faults there
}

TEST_P(AuditAtDepth, AWritableExecutablePageIsFound) {
    const mm::Lookup text = walker_.translate(VirtAddr(kImage));
    ASSERT_TRUE(text.present);
    text.entry->set(PageTableLevel::kPt, PhysAddr(0x20'0000), pte::kPresent | pte::kWritable);
    Findings findings;
    EXPECT_EQ(audit(findings).wx, 1u);
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kWritableExecutable});
    EXPECT_EQ(findings.all[0].va, VirtAddr(kImage));
    EXPECT_STREQ(findings.all[0].region, "text");
}

TEST_P(AuditAtDepth, APageNoRegionExpectsIsUnexpected) {
    // The last page of the 48-bit lower half: mapped at either depth.
    ASSERT_TRUE(builder_.map_range(VirtAddr(0x0000'7FFF'FFFF'F000ull), PhysAddr(0x70'0000), 4 * KiB, kDataPolicy).ok());
    Findings findings;
    EXPECT_EQ(audit(findings).unexpected, 1u);
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kUnexpected});
    EXPECT_EQ(findings.all[0].va, VirtAddr(0x0000'7FFF'FFFF'F000ull));
}

INSTANTIATE_TEST_SUITE_P(Depths, AuditAtDepth, ::testing::Values(PagingDepth::kFourLevel, PagingDepth::kFiveLevel),
                         [](const ::testing::TestParamInfo<PagingDepth>& info) {
                             return info.param == PagingDepth::kFiveLevel ? "FiveLevels" : "FourLevels";
                         });

TEST(FiveLevelAudit, PsInAPml4EntryBelowAPml5IsStillMalformed) {
    FakePhysicalMemory memory(PhysAddr(16 * MiB), 16);
    FakeFrameSource frames(memory);
    const PhysAddr root = mm::PageTableBuilder::create_pml4(memory, frames).frame();
    mm::PageTableBuilder builder(root, memory, frames, true, k5);
    ASSERT_TRUE(builder.map_range(VirtAddr(kAbove47), PhysAddr(0x30'0000), 4 * KiB, kDataPolicy).ok());
    mm::PageTableWalker walker(root, memory, k5);
    // PML5 entry 128 -> its PML4: plant PS in that PML4's entry 3.
    const PhysAddr pml4 = memory.table_at(root)->entries[128].address();
    memory.table_at(pml4)->entries[3] = mm::PageTableEntry::from_raw(pte::kPresent | pte::kHugePage);
    struct Sink final : mm::FindingSink {
        void found(const mm::Finding& f) override { all.push_back(f); }
        std::vector<mm::Finding> all;
    } sink;
    const mm::RegionExpectation high = mm::expect_mapped("high", VirtAddr(kAbove47), PhysAddr(0x30'0000), 4 * KiB,
                                                         kDataPolicy);
    const mm::AuditCounts counts = mm::audit_address_space(walker, &high, 1, true, sink);
    EXPECT_EQ(counts.malformed, 1u);
    EXPECT_EQ(counts.leaves, 1u);
    ASSERT_EQ(sink.all.size(), 1u);
    EXPECT_EQ(sink.all[0].rule, AuditRule::kPsInPml4e);
    EXPECT_EQ(sink.all[0].va, VirtAddr(kAbove47 + 3 * 512 * GiB));
    EXPECT_STREQ(mm::describe(AuditRule::kPsInPml5e), "PS is reserved in a PML5 entry");
}

// Chapter 16 moves the phys-offset window before its first table; once the
// kernel's tables are live, a move would strand every pointer into the
// window, so it stops the kernel. Both run in a child process, so this one
// keeps the 4-level place the other tests use.
TEST(FiveLevelPhysWindow, MovesBeforeTheTablesAreLiveAndNeverAfter) {
    EXPECT_EXIT(
        {
            mm::use_five_level_phys_window();
            const bool moved = mm::phys_window().base == mm::layout::five_level::kPhysWindowBase &&
                               mm::phys_to_virt(PhysAddr(0x1000)) == mm::layout::five_level::kPhysWindowBase + 0x1000;
            std::exit(moved ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
    EXPECT_DEATH(
        {
            mm::BootTableAccess tables;
            tables.use_window();
            mm::use_five_level_phys_window();
        },
        "g_phys_window_fixed");
}

}  // namespace

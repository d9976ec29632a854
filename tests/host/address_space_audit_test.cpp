// Chapter 09's walker, audit and report over a fake physical memory: every
// level and page size walked, translate() with its entry, each global rule
// broken once on purpose, region checks, and the report's merge rules.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "mm/address_space_audit.h"
#include "mm/address_space_report.h"
#include "arch/x86/paging_bits.h"
#include "mm/cpu_paging_features.h"
#include "fake_physical_memory.h"
#include "mm/page_table_builder.h"
#include "mm/page_table_walker.h"
#include "mm/ram_run_mapper.h"

using mm::AuditRule;
using mm::Leaf;
using mm::MappingPolicy;
using mm::PageSize;
using mm::PageTableLevel;
using mm::PhysAddr;
using mm::VirtAddr;
namespace pte = x86::pte;

namespace {

constexpr uint64_t kWindow = 0xFFFF'8000'0000'0000ull;
constexpr uint64_t kImage = 0xFFFF'FFFF'8000'1000ull;
constexpr mm::CpuPagingFeatures kCpu{true, true};
const MappingPolicy kWindowPolicy = mm::fit_to_cpu(mm::phys_window_policy(), kCpu);
const MappingPolicy kTextPolicy = mm::fit_to_cpu(mm::kKernelTextPolicy, kCpu);
const MappingPolicy kDataPolicy = mm::fit_to_cpu(mm::kKernelDataPolicy, kCpu);
const MappingPolicy kFramebufferPolicy = mm::fit_to_cpu(mm::kFramebufferPolicy, kCpu);

class Collect final : public mm::PageTableVisitor {
public:
    bool enter_table(const mm::TableVisit& t) override {
        tables.push_back(t);
        return true;
    }
    void leaf(const Leaf& l) override { leaves.push_back(l); }
    void stray_entry(const mm::StrayEntry& s) override { strays.push_back(s); }

    std::vector<mm::TableVisit> tables;
    std::vector<Leaf> leaves;
    std::vector<mm::StrayEntry> strays;
};

class Findings final : public mm::FindingSink {
public:
    void found(const mm::Finding& f) override { all.push_back(f); }
    std::vector<AuditRule> rules() const {
        std::vector<AuditRule> out;
        for (const mm::Finding& f : all) out.push_back(f.rule);
        return out;
    }
    std::vector<mm::Finding> all;
};

// An address space with one page of every size: a 1 GiB and a 2 MiB window
// page, and three 4 KiB text pages, over 64 frames of fake memory.
class AddressSpace : public ::testing::Test {
protected:
    AddressSpace() : memory_(PhysAddr(16 * MiB + 12 * KiB), 64), frames_(memory_), pml4_(new_pml4()),
                     builder_(pml4_, memory_, frames_, kCpu.pages_1gib), walker_(pml4_, memory_) {
        map(kWindow + GiB, GiB, GiB, kWindowPolicy);
        map(kWindow + 2 * GiB, 2 * GiB, 2 * MiB, kWindowPolicy);
        map(kImage, 0x20'0000, 3 * KiB * 4, kTextPolicy);
        regions_ = {
            mm::expect_mapped("window-1g", VirtAddr(kWindow + GiB), PhysAddr(GiB), GiB, kWindowPolicy),
            mm::expect_mapped("window-2m", VirtAddr(kWindow + 2 * GiB), PhysAddr(2 * GiB), 2 * MiB, kWindowPolicy),
            mm::expect_mapped("text", VirtAddr(kImage), PhysAddr(0x20'0000), 3 * 4 * KiB, kTextPolicy),
            mm::expect_absent("guard", VirtAddr(kImage - 4 * KiB), 4 * KiB),
        };
    }

    PhysAddr new_pml4() {
        const mm::FrameResult frame = mm::PageTableBuilder::create_pml4(memory_, frames_);
        EXPECT_TRUE(frame.ok());
        return frame.frame();
    }
    void map(uint64_t va, uint64_t pa, uint64_t length, const MappingPolicy& policy) {
        ASSERT_TRUE(builder_.map_range(VirtAddr(va), PhysAddr(pa), length, policy).ok());
    }
    mm::AuditCounts audit(Findings& findings) {
        return mm::audit_address_space(walker_, regions_.data(), regions_.size(), true, findings);
    }
    mm::PageTableEntry& leaf_entry(uint64_t va) {
        const mm::Lookup at = walker_.translate(VirtAddr(va));
        EXPECT_TRUE(at.present);
        return *at.entry;
    }

    FakePhysicalMemory memory_;
    FakeFrameSource frames_;
    PhysAddr pml4_;
    mm::PageTableBuilder builder_;
    mm::PageTableWalker walker_;
    std::vector<mm::RegionExpectation> regions_;
};

TEST_F(AddressSpace, WalkVisitsEveryLevelAndPageSizeInAddressOrder) {
    Collect c;
    walker_.walk(c);
    ASSERT_EQ(c.leaves.size(), 1u + 1u + 3u);
    EXPECT_TRUE(c.strays.empty());
    EXPECT_EQ(c.tables.size(), 1 + builder_.stats().tables_created);
    EXPECT_EQ(c.tables[0].frame, pml4_);
    EXPECT_EQ(c.tables[0].level, PageTableLevel::kPml4);

    const Leaf& gib = c.leaves[0];
    EXPECT_EQ(gib.va, VirtAddr(kWindow + GiB));
    EXPECT_EQ(gib.pa, PhysAddr(GiB));
    EXPECT_EQ(gib.size, PageSize::k1GiB);
    EXPECT_EQ(gib.level, PageTableLevel::kPdpt);
    EXPECT_EQ(gib.flags, mm::leaf_entry_flags(kWindowPolicy, PageSize::k1GiB));
    const Leaf& mib = c.leaves[1];
    EXPECT_EQ(mib.va, VirtAddr(kWindow + 2 * GiB));
    EXPECT_EQ(mib.size, PageSize::k2MiB);
    EXPECT_EQ(mib.level, PageTableLevel::kPd);
    for (int i = 0; i < 3; ++i) {
        const Leaf& page = c.leaves[2 + i];
        EXPECT_EQ(page.va, VirtAddr(kImage + i * 4 * KiB));
        EXPECT_EQ(page.pa, PhysAddr(0x20'0000 + i * 4 * KiB));
        EXPECT_EQ(page.size, PageSize::k4KiB);
        EXPECT_EQ(page.flags, pte::kPresent);
        EXPECT_EQ(page.above_and & mm::kTableEntryFlags, mm::kTableEntryFlags);
    }
    EXPECT_EQ(*c.leaves[2].entry, mm::PageTableEntry::from_raw(0x20'0000 | pte::kPresent));
}

TEST_F(AddressSpace, TranslateReturnsTheLeafOrTheEntryThatEndedTheWalk) {
    const mm::Lookup inside = walker_.translate(VirtAddr(kWindow + 2 * GiB + 0x1234));
    ASSERT_TRUE(inside.present);
    EXPECT_EQ(inside.leaf.va, VirtAddr(kWindow + 2 * GiB));
    EXPECT_EQ(inside.leaf.size, PageSize::k2MiB);
    EXPECT_EQ(inside.level, PageTableLevel::kPd);

    const mm::Lookup guard = walker_.translate(VirtAddr(kImage - 4 * KiB));
    EXPECT_FALSE(guard.present);
    EXPECT_EQ(guard.level, PageTableLevel::kPt);  // the image's PT exists; the guard's PTE is empty
    ASSERT_NE(guard.entry, nullptr);
    EXPECT_EQ(guard.entry->raw(), 0u);

    const mm::Lookup nothing = walker_.translate(VirtAddr(0x1000));
    EXPECT_FALSE(nothing.present);
    EXPECT_EQ(nothing.level, PageTableLevel::kPml4);

    EXPECT_EQ(walker_.translate(VirtAddr(0x0000'8000'0000'0000ull)).entry, nullptr);  // not canonical
}

TEST(Flags, EffectiveRightsCombineAcrossLevels) {
    Leaf leaf{};
    leaf.flags = pte::kPresent | pte::kWritable | pte::kUser;
    leaf.above_and = pte::kPresent | pte::kUser;  // one level above is read-only
    leaf.above_or = pte::kPresent | pte::kUser | pte::kNoExecute;
    EXPECT_EQ(mm::effective_flags(leaf), pte::kPresent | pte::kUser | pte::kNoExecute);
}

TEST(Flags, NormalizedFlagsIgnoreAccessedDirtyAndPageSize) {
    const uint64_t wc_2m = mm::leaf_entry_flags(mm::kFramebufferPolicy, PageSize::k2MiB);
    const uint64_t wc_4k = mm::leaf_entry_flags(mm::kFramebufferPolicy, PageSize::k4KiB);
    EXPECT_EQ(mm::normalized_flags(wc_2m | pte::kAccessed | pte::kDirty, PageSize::k2MiB), wc_4k);
    EXPECT_EQ(mm::normalized_flags(wc_4k | pte::kAccessed, PageSize::k4KiB), wc_4k);
}

TEST_F(AddressSpace, CleanSpacePassesEveryRegionAndTheAudit) {
    Findings findings;
    for (const mm::RegionExpectation& r : regions_) EXPECT_TRUE(mm::check_region(walker_, r, kCpu, findings).ok) << r.name;
    const mm::RegionResult text = mm::check_region(walker_, regions_[2], kCpu, findings);
    EXPECT_EQ(text.pages_4k, 3u);
    const mm::AuditCounts counts = audit(findings);
    EXPECT_TRUE(counts.ok());
    EXPECT_EQ(counts.leaves, 5u);
    EXPECT_EQ(counts.tables, 1 + builder_.stats().tables_created);
    EXPECT_TRUE(findings.all.empty());
}

TEST_F(AddressSpace, A1GiBPageIsTheWrongSizeOnACpuWithoutThem) {
    // The same tables held against a CPU without Page1GB: a builder for it
    // would have used 2 MiB pages, so the 1 GiB leaf is reported by size.
    Findings findings;
    EXPECT_FALSE(mm::check_region(walker_, regions_[0], {true, false}, findings).ok);
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kPageSize});
    EXPECT_EQ(findings.all[0].va, VirtAddr(kWindow + GiB));
    EXPECT_EQ(findings.all[0].found, GiB);
    EXPECT_EQ(findings.all[0].expected, 2 * MiB);
    // The 2 MiB page is right on either CPU.
    EXPECT_TRUE(mm::check_region(walker_, regions_[1], {true, false}, findings).ok);
}

TEST_F(AddressSpace, WritableExecutablePageIsFound) {
    leaf_entry(kImage).set(PageTableLevel::kPt, PhysAddr(0x20'0000), pte::kPresent | pte::kWritable);
    Findings findings;
    const mm::AuditCounts counts = audit(findings);
    EXPECT_EQ(counts.wx, 1u);
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kWritableExecutable});
    EXPECT_EQ(findings.all[0].va, VirtAddr(kImage));
    EXPECT_STREQ(findings.all[0].region, "text");
    const mm::FindingText text = mm::finding_text(findings.all[0]);
    EXPECT_STREQ(text.found, "P|RW");
    EXPECT_STREQ(text.expected, "P|RW|NX");
    // The region check names it too: text is not writable.
    Findings region;
    EXPECT_FALSE(mm::check_region(walker_, regions_[2], kCpu, region).ok);
    ASSERT_EQ(region.rules(), std::vector<AuditRule>{AuditRule::kFlags});
    // Without NX in force every page is executable: the rule is not applied.
    Findings off;
    EXPECT_EQ(mm::audit_address_space(walker_, regions_.data(), regions_.size(), false, off).wx, 0u);
}

TEST_F(AddressSpace, UserBitAnywhereOnThePathIsFound) {
    mm::PageTableEntry& leaf = leaf_entry(kImage + 4 * KiB);
    leaf = mm::PageTableEntry::from_raw(leaf.raw() | pte::kUser);  // the CPU would not grant it: tables lack US
    Findings findings;
    EXPECT_EQ(audit(findings).user, 1u);
    EXPECT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kUser});
    EXPECT_EQ(findings.all[0].va, VirtAddr(kImage + 4 * KiB));
}

TEST_F(AddressSpace, NonPresentNonZeroEntryIsFound) {
    const mm::Lookup guard = walker_.translate(VirtAddr(kImage - 4 * KiB));
    *guard.entry = mm::PageTableEntry::from_raw(0x20'0000 | pte::kWritable);  // P clear, the rest not
    Findings findings;
    const mm::AuditCounts counts = audit(findings);
    EXPECT_EQ(counts.nonzero_not_present, 1u);
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kNotPresentNonZero});
    EXPECT_EQ(findings.all[0].va, VirtAddr(kImage - 4 * KiB));
    EXPECT_EQ(findings.all[0].found, 0x20'0000 | pte::kWritable);
    EXPECT_STREQ(findings.all[0].region, "guard");
    Findings region;  // the guard itself is still not mapped
    EXPECT_TRUE(mm::check_region(walker_, regions_[3], kCpu, region).ok);
}

TEST_F(AddressSpace, TableReachableTwiceIsFoundAndWalkedOnce) {
    mm::PageTable& root = *memory_.table_at(pml4_);
    root.entries[300] = root.entries[256];  // a second path to the window's PDPT
    Findings findings;
    const mm::AuditCounts counts = audit(findings);
    EXPECT_EQ(counts.shared_tables, 1u);
    EXPECT_EQ(counts.leaves, 5u);  // not counted again through the second path
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kSharedTable});
    EXPECT_EQ(findings.all[0].found, root.entries[256].address().value());
}

TEST_F(AddressSpace, PsInAPml4EntryIsMalformed) {
    mm::PageTable& root = *memory_.table_at(pml4_);
    root.entries[10] = mm::PageTableEntry::from_raw(pte::kPresent | pte::kHugePage);
    Findings findings;
    EXPECT_EQ(audit(findings).malformed, 1u);
    EXPECT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kPsInPml4e});
}

TEST_F(AddressSpace, PageOutsideEveryRegionIsUnexpected) {
    map(0xFFFF'E000'0000'0000ull, 0x30'0000, 4 * KiB, kDataPolicy);
    Findings findings;
    EXPECT_EQ(audit(findings).unexpected, 1u);
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kUnexpected});
    EXPECT_STREQ(findings.all[0].region, "heap");  // named by the layout
}

TEST_F(AddressSpace, RegionChecksNameWhatDiffers) {
    Findings f;
    // A region longer than what is mapped: the first missing page.
    EXPECT_FALSE(mm::check_region(walker_, mm::expect_mapped("text", VirtAddr(kImage), PhysAddr(0x20'0000), 16 * KiB,
                                                             kTextPolicy), kCpu, f).ok);
    // Another frame than expected.
    EXPECT_FALSE(mm::check_region(walker_, mm::expect_mapped("text", VirtAddr(kImage), PhysAddr(0x40'0000), 12 * KiB,
                                                             kTextPolicy), kCpu, f).ok);
    // A policy that would have taken 4 KiB pages where a 2 MiB one is.
    EXPECT_FALSE(mm::check_region(walker_, mm::expect_mapped("w", VirtAddr(kWindow + 2 * GiB), PhysAddr(2 * GiB),
                                                             2 * MiB, kDataPolicy), kCpu, f).ok);
    // WC expected where WB is.
    MappingPolicy wc = kWindowPolicy;
    wc.memory_type = mm::MemoryType::kWriteCombining;
    EXPECT_FALSE(mm::check_region(walker_, mm::expect_mapped("w", VirtAddr(kWindow + 2 * GiB), PhysAddr(2 * GiB),
                                                             2 * MiB, wc), kCpu, f).ok);
    // A guard over mapped text; a region starting inside a large page.
    EXPECT_FALSE(mm::check_region(walker_, mm::expect_absent("g", VirtAddr(kImage + 4 * KiB), 4 * KiB), kCpu, f).ok);
    EXPECT_FALSE(mm::check_region(walker_, mm::expect_mapped_anywhere("w", VirtAddr(kWindow + 2 * GiB + 4 * KiB),
                                                                      4 * KiB, kWindowPolicy), kCpu, f).ok);
    EXPECT_EQ(f.rules(), (std::vector<AuditRule>{AuditRule::kMapped, AuditRule::kPhysical, AuditRule::kPageSize,
                                                 AuditRule::kFlags, AuditRule::kAbsent, AuditRule::kInsideRegion}));
    EXPECT_EQ(f.all[0].va, VirtAddr(kImage + 12 * KiB));
    EXPECT_STREQ(mm::finding_text(f.all[0]).found, "not-present");
    EXPECT_STREQ(mm::finding_text(f.all[2]).found, "2MiB");
    EXPECT_STREQ(mm::finding_text(f.all[2]).expected, "4KiB");
    EXPECT_STREQ(mm::finding_text(f.all[3]).expected, "P|RW|NX|PAT");
    EXPECT_STREQ(mm::finding_text(f.all[3]).found, "P|RW|NX");
}

// ---- the report -------------------------------------------------------------

class Report : public AddressSpace {
protected:
    mm::AddressSpaceReport report() {
        mm::AddressSpaceReport r(owners_, sizeof(owners_) / sizeof(owners_[0]));
        walker_.walk(r);
        return r;
    }
    mm::Owner owners_[3] = {{"text", VirtAddr(kImage), 4 * KiB},
                            {"kernel-image", VirtAddr(0xFFFF'FFFF'8000'0000ull), 2 * GiB},
                            {"phys-window", VirtAddr(kWindow), 64 * 1024 * GiB}};
};

TEST_F(Report, MergesContiguousLeavesWithEqualFlagsSizeAndOwner) {
    map(kImage + 3 * 4 * KiB, 0x20'0000 + 3 * 4 * KiB, 4 * KiB, kTextPolicy);      // continues va and pa
    map(kImage + 4 * 4 * KiB, 0x50'0000, 4 * KiB, kTextPolicy);                     // continues va only
    map(kImage + 5 * 4 * KiB, 0x50'1000, 4 * KiB, kDataPolicy);                     // other flags
    map(kWindow + 2 * GiB + 2 * MiB, 2 * GiB + 2 * MiB, 2 * MiB, kWindowPolicy);   // continues the 2 MiB page
    // The CPU's accessed and dirty bits never split a range.
    mm::PageTableEntry& e = leaf_entry(kImage + 2 * 4 * KiB);
    e = mm::PageTableEntry::from_raw(e.raw() | pte::kAccessed | pte::kDirty);

    const mm::AddressSpaceReport r = report();
    ASSERT_EQ(r.count(), 6u);
    auto row = [&](size_t i) { return std::make_tuple(r[i].va.value(), r[i].size, r[i].pa.value(), r[i].page_size,
                                                      std::string(r[i].owner)); };
    using T = std::tuple<uint64_t, uint64_t, uint64_t, PageSize, std::string>;
    EXPECT_EQ(row(0), T(kWindow + GiB, GiB, GiB, PageSize::k1GiB, "phys-window"));
    EXPECT_EQ(row(1), T(kWindow + 2 * GiB, 4 * MiB, 2 * GiB, PageSize::k2MiB, "phys-window"));
    EXPECT_EQ(row(2), T(kImage, 4 * KiB, 0x20'0000, PageSize::k4KiB, "text"));  // the owner changes after a page
    EXPECT_EQ(row(3), T(kImage + 4 * KiB, 12 * KiB, 0x20'1000, PageSize::k4KiB, "kernel-image"));
    EXPECT_EQ(row(4), T(kImage + 16 * KiB, 4 * KiB, 0x50'0000, PageSize::k4KiB, "kernel-image"));
    EXPECT_EQ(row(5), T(kImage + 20 * KiB, 4 * KiB, 0x50'1000, PageSize::k4KiB, "kernel-image"));
    EXPECT_EQ(r[5].flags, mm::leaf_flags::kKernelData);
    EXPECT_EQ(r[4].flags, pte::kPresent);
    EXPECT_EQ(r.leaves(), 1u + 2u + 6u);
    EXPECT_EQ(r.dropped(), 0u);
}

}  // namespace

// ---- the per-frame rules -----------------------------------------------------------

TEST_F(AddressSpace, AWritableAliasOfAnExecutableFrameIsFound) {
    // The window's view of the text's second frame, writable: each page alone is fine (RW+NX
    // here, RX there), the frame is not.
    map(kWindow + 0x20'1000, 0x20'1000, 4 * KiB, kWindowPolicy);
    regions_.push_back(mm::expect_mapped("phys-window", VirtAddr(kWindow + 0x20'1000), PhysAddr(0x20'1000), 4 * KiB,
                                         kWindowPolicy));
    Findings findings;
    const mm::AuditCounts counts = audit(findings);
    EXPECT_EQ(counts.wx, 0u);
    EXPECT_EQ(counts.frame_wx, 1u);
    EXPECT_FALSE(counts.ok());
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kFrameWritableExecutable});
    EXPECT_EQ(findings.all[0].va, VirtAddr(kWindow + 0x20'1000));
    EXPECT_STREQ(findings.all[0].region, "phys-window");
    EXPECT_EQ(findings.all[0].found, 0x20'1000u);                 // the frame
    EXPECT_EQ(findings.all[0].expected, kImage + 4 * KiB);        // where it is executable
    EXPECT_STREQ(mm::describe(AuditRule::kFrameWritableExecutable),
                 "no frame may be writable through one address and executable through another");
    // Without NX every page is executable: neither W^X rule is applied.
    Findings off;
    EXPECT_EQ(mm::audit_address_space(walker_, regions_.data(), regions_.size(), false, off).frame_wx, 0u);
}

TEST_F(AddressSpace, AReadOnlyAliasOfAnExecutableFrameIsFine) {
    // What the window does with the kernel image: the same frames, read-only and NX.
    const MappingPolicy read_only = mm::read_only(kWindowPolicy);
    map(kWindow + 0x20'0000, 0x20'0000, 12 * KiB, read_only);
    regions_.push_back(mm::expect_mapped("phys-window", VirtAddr(kWindow + 0x20'0000), PhysAddr(0x20'0000), 12 * KiB,
                                         read_only));
    Findings findings;
    EXPECT_TRUE(audit(findings).ok());
    EXPECT_TRUE(findings.all.empty());
}

TEST_F(AddressSpace, ALargeWritablePageOverAnExecutableFrameIsFound) {
    // A 2 MiB window page whose span holds all three text frames: found once, at its first one.
    map(kWindow, 0, 2 * MiB, kWindowPolicy);  // 4 KiB pages: [0, 2 MiB) is not 1 GiB
    map(kWindow + 2 * MiB, 2 * MiB, 2 * MiB, kWindowPolicy);
    regions_.push_back(mm::expect_mapped("phys-window", VirtAddr(kWindow), PhysAddr(0), 4 * MiB, kWindowPolicy));
    Findings findings;
    EXPECT_EQ(audit(findings).frame_wx, 1u);
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kFrameWritableExecutable});
    EXPECT_EQ(findings.all[0].va, VirtAddr(kWindow + 2 * MiB));
    EXPECT_EQ(findings.all[0].found, 0x20'0000u);
    EXPECT_EQ(findings.all[0].expected, kImage);
}

TEST_F(AddressSpace, AFrameWithTwoMemoryTypesIsFound) {
    // A framebuffer in RAM the window maps WB, mapped again WC: the window's page is named.
    map(0xFFFF'D000'0000'0000ull, 2 * GiB + 4 * KiB, 8 * KiB, kFramebufferPolicy);
    regions_.push_back(mm::expect_mapped("framebuffer", VirtAddr(0xFFFF'D000'0000'0000ull), PhysAddr(2 * GiB + 4 * KiB),
                                         8 * KiB, kFramebufferPolicy));
    Findings findings;
    const mm::AuditCounts counts = audit(findings);
    EXPECT_EQ(counts.frame_types, 1u);
    EXPECT_EQ(counts.frame_wx, 0u);
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kFrameMemoryTypes});
    EXPECT_EQ(findings.all[0].va, VirtAddr(kWindow + 2 * GiB));  // the 2 MiB WB page
    EXPECT_STREQ(findings.all[0].region, "window-2m");
    const mm::FindingText text = mm::finding_text(findings.all[0]);
    EXPECT_STREQ(text.found, "WB");
    EXPECT_STREQ(text.expected, "WC");
}

TEST_F(AddressSpace, TheMemoryTypeComesFromThePatIndexBitsOfEachLeafSize) {
    const Leaf wb_4k{VirtAddr(), PhysAddr(), PageSize::k4KiB, PageTableLevel::kPt, pte::kPresent, 0, 0, PhysAddr(), nullptr};
    Leaf wc_4k = wb_4k, wc_2m = wb_4k, uc = wb_4k, ps_only = wb_4k;
    wc_4k.flags |= pte::kPat4K;
    wc_2m.size = PageSize::k2MiB;
    wc_2m.flags |= pte::kHugePage | pte::kPatHuge;
    uc.flags |= pte::kCacheDisable | pte::kWriteThrough;
    ps_only.size = PageSize::k2MiB;
    ps_only.flags |= pte::kHugePage;  // bit 7 is PS here, not PAT
    EXPECT_STREQ(mm::pat_type_name(mm::leaf_memory_type(wb_4k)), "WB");
    EXPECT_STREQ(mm::pat_type_name(mm::leaf_memory_type(wc_4k)), "WC");
    EXPECT_STREQ(mm::pat_type_name(mm::leaf_memory_type(wc_2m)), "WC");
    EXPECT_STREQ(mm::pat_type_name(mm::leaf_memory_type(uc)), "UC");
    EXPECT_STREQ(mm::pat_type_name(mm::leaf_memory_type(ps_only)), "WB");
}

TEST_F(AddressSpace, MoreFrameRangesThanTheAuditHoldsAreRefusedByName) {
    // Uncached pages on every other frame: none merge, one more than the audit can hold.
    const MappingPolicy uc = mm::fit_to_cpu(mm::kMmioPolicy, kCpu);
    const uint64_t base = 0xFFFF'C000'0000'0000ull;
    for (uint64_t i = 0; i <= mm::kMaxFrameRanges; ++i) map(base + i * 4 * KiB, 3 * GiB + i * 8 * KiB, 4 * KiB, uc);
    regions_.push_back(mm::expect_mapped_anywhere("mmio", VirtAddr(base), (mm::kMaxFrameRanges + 1) * 4 * KiB, uc));
    Findings findings;
    const mm::AuditCounts counts = audit(findings);
    EXPECT_EQ(counts.untracked, 1u);
    EXPECT_FALSE(counts.ok());
    ASSERT_EQ(findings.rules(), std::vector<AuditRule>{AuditRule::kTooManyFrameRanges});
    EXPECT_EQ(findings.all[0].va, VirtAddr(base + mm::kMaxFrameRanges * 4 * KiB));
}

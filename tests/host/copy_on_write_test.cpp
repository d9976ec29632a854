// Chapter 14's memory library over a fake physical memory: the per-frame
// reference counts rule by rule, a copy-on-write fork with writes on both
// sides (pages copied == writes to shared pages, unwritten pages one frame in
// both tables, every count back to 0 and every frame back after both exit),
// CountedFrames, the owner chapter 13's first touch, munmap, mprotect and exit
// go through (a frame back only at its last release, never writable while
// shared), running out of frames at every step of a clone (nothing changed),
// the write fault's three answers, and the audit catching each planted mistake.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

#include "cow_world.h"
#include "mm/bitmap_frame_allocator.h"
#include "mm/boot_frame_allocator.h"
#include "mm/cow_audit.h"
#include "mm/memory_ranges.h"

using mm::CloneStatus;
using mm::CowWriteOutcome;
using mm::PhysAddr;
using mm::RefCountStatus;
using mm::VirtAddr;
namespace user_flags = mm::user_flags;

namespace {

constexpr VirtAddr kText{0x400000};
constexpr VirtAddr kRodata{0x401000};
constexpr VirtAddr kData{0x600000};  // its own page table: a clone copies two PTs

VirtAddr data_page(unsigned i) { return kData + i * kPageSize; }
uint64_t parent_value(unsigned i) { return 0x1000 + i; }

// A process as chapter 12 loads one, then touched: borrowed text, counted
// rodata, `pages` data pages written once each.
struct Process {
    explicit Process(CowWorld& world) : space(world.memory, world.frames) {}
    mm::UserAddressSpace space;
};

PhysAddr build_parent(CowWorld& w, Process& p, unsigned pages) {
    EXPECT_EQ(p.space.create(w.kernel), mm::UserMapStatus::kOk);
    const PhysAddr text = w.frames.alloc_frame().frame();  // the module's frame: borrowed, never counted
    EXPECT_TRUE(map_counted_page(p.space, kText, text, user_flags::kText | user_flags::kBorrowed, w.counts).ok());
    EXPECT_TRUE(w.map_fresh(p.space, kRodata, user_flags::kRodata, 0xdead));
    for (unsigned i = 0; i < pages; ++i) EXPECT_TRUE(w.map_fresh(p.space, data_page(i), user_flags::kData, parent_value(i)));
    return text;
}

mm::CowAudit audit(CowWorld& w, std::initializer_list<const Process*> processes, bool every_space = true) {
    std::vector<PhysAddr> pml4s;
    for (const Process* p : processes) pml4s.push_back(p->space.pml4());
    return mm::audit_copy_on_write(w.memory, pml4s.data(), pml4s.size(), w.counts, every_space);
}

}  // namespace

// ---------------------------------------------------------------------------
// FrameRefCounts
// ---------------------------------------------------------------------------

TEST(FrameRefCounts, CountsClaimShareReleaseAndSaysLast) {
    CowWorld w(64);
    ASSERT_EQ(w.init_status, mm::RefCountInitStatus::kOk);
    EXPECT_EQ(w.counts.frames_covered(), 64u);
    EXPECT_EQ(w.counts.count_pages(), 1u);  // 64 counts fit one page
    const PhysAddr f = w.frames.alloc_frame().frame();
    EXPECT_EQ(w.counts.count(f), 0u);
    const mm::RefCountResult claimed = w.counts.claim(f);
    EXPECT_TRUE(claimed.ok() && claimed.count == 1);
    const mm::RefCountResult shared = w.counts.share(f);
    EXPECT_TRUE(shared.ok() && shared.count == 2);
    EXPECT_EQ(w.counts.references(), 2u);
    EXPECT_EQ(w.counts.frames_held(), 1u);
    const mm::RefCountResult first = w.counts.release(f);
    EXPECT_TRUE(first.ok() && !first.last() && first.count == 1);
    const mm::RefCountResult second = w.counts.release(f);
    EXPECT_TRUE(second.last());
    EXPECT_EQ(w.counts.references(), 0u);
    EXPECT_EQ(w.counts.frames_held(), 0u);
}

TEST(FrameRefCounts, RefusesEachRuleByNameAndChangesNothing) {
    CowWorld w(64);
    const PhysAddr f = w.frames.alloc_frame().frame();
    EXPECT_EQ(w.counts.release(f).status, RefCountStatus::kNotHeld);
    EXPECT_EQ(w.counts.share(f).status, RefCountStatus::kNotHeld);
    EXPECT_EQ(w.counts.claim(f + 8).status, RefCountStatus::kMisaligned);
    EXPECT_EQ(w.counts.claim(CowWorld::kBase + 64 * kPageSize).status, RefCountStatus::kNotCovered);
    EXPECT_EQ(w.counts.claim(PhysAddr(0x1000)).status, RefCountStatus::kNotCovered);
    ASSERT_TRUE(w.counts.claim(f).ok());
    EXPECT_EQ(w.counts.claim(f).status, RefCountStatus::kAlreadyHeld);
    while (w.counts.count(f) < mm::FrameRefCounts::kMaxCount) ASSERT_TRUE(w.counts.share(f).ok());
    const mm::RefCountResult saturated = w.counts.share(f);
    EXPECT_EQ(saturated.status, RefCountStatus::kSaturated);
    EXPECT_EQ(w.counts.count(f), 65535u);  // refused, not wrapped to 0
    EXPECT_EQ(w.counts.references(), 65535u);
    EXPECT_STREQ(mm::name(RefCountStatus::kSaturated), "count-saturated");
    EXPECT_STRNE(mm::describe(RefCountStatus::kSaturated), "unknown");
}

TEST(FrameRefCounts, CountPagesComeFromTheFrameSourceAndInitRefusesByName) {
    FakePhysicalMemory memory(CowWorld::kBase, 8);
    FreeListFrames frames(memory);
    BufferCountStorage storage;
    mm::FrameRefCounts counts;
    // Two ranges, numbered one after the other, like the bitmap's regions.
    const mm::FrameRange two[] = {{PhysAddr(0x100000), PhysAddr(0x200000)}, {PhysAddr(0x400000), PhysAddr(0x1400000)}};
    ASSERT_EQ(counts.init(two, 2, frames, storage), mm::RefCountInitStatus::kOk);
    EXPECT_EQ(counts.frames_covered(), 256u + 4096u);
    EXPECT_EQ(counts.count_pages(), 3u);  // 4352 counts: three pages of 2048
    EXPECT_EQ(frames.free_count(), 5u);
    EXPECT_TRUE(counts.covers(PhysAddr(0x13FF000)) && !counts.covers(PhysAddr(0x200000)));
    ASSERT_TRUE(counts.claim(PhysAddr(0x13FF000)).ok());  // the last count of the last page
    EXPECT_EQ(counts.count(PhysAddr(0x13FF000)), 1u);
    EXPECT_EQ(counts.count(PhysAddr(0x400000)), 0u);

    const mm::FrameRange unsorted[] = {two[1], two[0]};
    EXPECT_EQ(counts.init(unsorted, 2, frames, storage), mm::RefCountInitStatus::kBadRange);
    const mm::FrameRange empty[] = {{PhysAddr(0x100000), PhysAddr(0x100000)}};
    EXPECT_EQ(counts.init(empty, 1, frames, storage), mm::RefCountInitStatus::kBadRange);
    const mm::FrameRange huge[] = {{PhysAddr(0x100000), PhysAddr(0x100000 + 17 * GiB)}};
    EXPECT_EQ(counts.init(huge, 1, frames, storage), mm::RefCountInitStatus::kTooManyFrames);
    EXPECT_FALSE(counts.covers(PhysAddr(0x100000)));  // a refused init covers nothing
    const mm::FrameRange big[] = {{PhysAddr(0x100000), PhysAddr(0x100000 + 64 * MiB)}};  // 8 pages of counts, 5 frames left
    EXPECT_EQ(counts.init(big, 1, frames, storage), mm::RefCountInitStatus::kOutOfFrames);
    EXPECT_STRNE(mm::describe(mm::RefCountInitStatus::kOutOfFrames), "unknown");
}

TEST(FrameRefCounts, BesideTheAllocatorCoverExactlyItsFramesAndTakePagesFromIt) {
    using mm::MemoryRange;
    using mm::RangeKind;
    // Two regions with a gap, as the bitmap allocator numbers them.
    const MemoryRange usable[] = {{PhysAddr(0x100000), PhysAddr(0x180000), RangeKind::kUsable},
                                  {PhysAddr(0x1000000), PhysAddr(0x1A00000), RangeKind::kUsable}};
    mm::BootFrameAllocator boot;
    boot.init(usable, 2);
    mm::BitmapFrameAllocator steady;
    struct : mm::BitmapStorage {
        uint64_t* words_at(PhysAddr, uint64_t frames) override {
            words.assign(frames * kPageSize / 8, 0);
            return words.data();
        }
        std::vector<uint64_t> words;
    } bitmap;
    ASSERT_TRUE(steady.take_over(boot, bitmap).ok);
    const uint64_t free_before = steady.stats().free;
    BufferCountStorage storage;
    mm::FrameRefCounts counts;
    ASSERT_EQ(counts.init_beside(steady, storage), mm::RefCountInitStatus::kOk);
    EXPECT_EQ(counts.frames_covered(), steady.stats().total);
    EXPECT_EQ(counts.count_pages(), 2u);  // 128 + 2560 frames: two pages of 2048 counts
    EXPECT_EQ(free_before - steady.stats().free, counts.count_pages());  // from the one allocator
    for (uint64_t a = 0x80000; a < 0x1C00000; a += kPageSize)
        EXPECT_EQ(counts.covers(PhysAddr(a)), steady.manages(PhysAddr(a))) << std::hex << a;
    // The last frame of the second region lands in the second page of counts.
    ASSERT_TRUE(counts.claim(PhysAddr(0x19FF000)).ok());
    EXPECT_EQ(counts.count(PhysAddr(0x19FF000)), 1u);
    EXPECT_EQ(counts.count(PhysAddr(0x17F000)), 0u);
}

// ---------------------------------------------------------------------------
// Fork, write on both sides, exit
// ---------------------------------------------------------------------------

TEST(CopyOnWrite, ForkSharesEveryPageAndPagesCopiedEqualWritesToSharedPages) {
    constexpr unsigned kPages = 8;
    CowWorld w;
    const size_t free_at_start = w.frames.free_count();
    Process parent(w), child(w);
    const PhysAddr text = build_parent(w, parent, kPages);
    const auto parent_before = w.leaves(parent.space);

    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(clone.ok()) << mm::describe(clone.status);
    EXPECT_EQ(clone.copy_on_write, kPages);
    EXPECT_EQ(clone.shared_read_only, 1u);
    EXPECT_EQ(clone.borrowed, 1u);
    EXPECT_EQ(clone.child_tables, 5u);  // PML4, PDPT, PD, two PTs: copied, not shared
    EXPECT_EQ(clone.flush.pages(), kPages);
    // The parent's write-protected pages are invalidated, each once, and no other.
    EXPECT_EQ(clone.flush.flush(), kPages);
    std::set<uint64_t> invalidated(w.tlb.pages.begin(), w.tlb.pages.end());
    EXPECT_EQ(invalidated.size(), w.tlb.pages.size());
    for (unsigned i = 0; i < kPages; ++i) EXPECT_TRUE(invalidated.count(data_page(i).value())) << i;
    EXPECT_EQ(invalidated.size(), kPages);

    // Same frames, both read-only and copy-on-write; tables distinct.
    const auto p = w.leaves(parent.space), c = w.leaves(child.space);
    ASSERT_EQ(p.size(), kPages + 2);
    ASSERT_EQ(c.size(), kPages + 2);
    for (const auto& [va, raw] : p) {
        const mm::PageTableEntry pe = mm::PageTableEntry::from_raw(raw), ce = mm::PageTableEntry::from_raw(c.at(va));
        EXPECT_EQ(pe.address(), ce.address()) << std::hex << va;
        EXPECT_FALSE(pe.writable() || ce.writable()) << std::hex << va;
        const bool data = va >= kData.value();
        EXPECT_EQ(bool(raw & user_flags::kCopyOnWrite), data) << std::hex << va;
        EXPECT_EQ(bool(c.at(va) & user_flags::kCopyOnWrite), data) << std::hex << va;
        EXPECT_EQ(w.counts.count(pe.address()), va == kText.value() ? 0u : 2u) << std::hex << va;
        if (!data) {
            EXPECT_EQ(raw, parent_before.at(va)) << "read-only pages are shared as they are";
        }
    }
    EXPECT_TRUE(c.at(kText.value()) & user_flags::kBorrowed);
    EXPECT_NE(child.space.pml4(), parent.space.pml4());
    EXPECT_NE(w.memory.table_at(child.space.pml4())->entries[0].address(),
              w.memory.table_at(parent.space.pml4())->entries[0].address());
    const mm::CowAudit after_fork = audit(w, {&parent, &child});
    EXPECT_TRUE(after_fork.ok());
    EXPECT_EQ(after_fork.copy_on_write, 2 * kPages);
    EXPECT_EQ(after_fork.shared_frames, 2 * (kPages + 1));

    // The child writes pages 0, 1, 2; the parent 2 (the child copied it: the
    // parent's frame is its own again, taken over) and 3 (still shared: copied).
    const size_t free_before_writes = w.frames.free_count();
    unsigned copied = 0, taken_over = 0, writes_to_shared = 0;
    auto write = [&](Process& who, unsigned page, uint64_t value) {
        const PhysAddr frame = w.leaf(who.space, data_page(page))->address();
        writes_to_shared += w.counts.count(frame) > 1;
        bool written = false;
        const CowWriteOutcome outcome = w.write(who.space, data_page(page), value, &written);
        EXPECT_TRUE(written);
        copied += outcome == CowWriteOutcome::kCopied;
        taken_over += outcome == CowWriteOutcome::kTakenOver;
    };
    for (unsigned i : {0u, 1u, 2u}) write(child, i, 0xC000 + i);
    for (unsigned i : {2u, 3u}) write(parent, i, 0xB000 + i);
    EXPECT_EQ(copied, 4u);
    EXPECT_EQ(copied, writes_to_shared);
    EXPECT_EQ(taken_over, 1u);
    EXPECT_EQ(w.frames.free_count(), free_before_writes - copied);
    // A second write to a page already copied faults no more.
    bool written = false;
    EXPECT_EQ(w.write(child.space, data_page(0), 0xC0C0, &written), CowWriteOutcome::kNotCopyOnWrite);
    EXPECT_TRUE(written);

    // Each side reads its own writes; the unwritten pages are still one frame.
    EXPECT_EQ(w.read(child.space, data_page(0)), 0xC0C0u);
    EXPECT_EQ(w.read(parent.space, data_page(0)), parent_value(0));
    EXPECT_EQ(w.read(child.space, data_page(2)), 0xC002u);
    EXPECT_EQ(w.read(parent.space, data_page(2)), 0xB002u);
    EXPECT_EQ(w.read(child.space, data_page(3)), parent_value(3));
    EXPECT_EQ(w.read(parent.space, data_page(3)), 0xB003u);
    for (unsigned i = 4; i < kPages; ++i) {
        const mm::PageTableEntry *pe = w.leaf(parent.space, data_page(i)), *ce = w.leaf(child.space, data_page(i));
        EXPECT_EQ(pe->address(), ce->address()) << i;
        EXPECT_FALSE(pe->writable() || ce->writable()) << i;
        EXPECT_EQ(w.counts.count(pe->address()), 2u) << i;
    }
    EXPECT_TRUE(w.leaf(parent.space, data_page(2))->writable());
    EXPECT_FALSE(w.leaf(parent.space, data_page(2))->raw() & user_flags::kCopyOnWrite);
    EXPECT_TRUE(audit(w, {&parent, &child}).ok());

    // The child exits first: only the frames it alone maps go back.
    const mm::CountedTeardownResult child_gone = mm::destroy_counted(child.space, w.memory, w.counts, w.frames);
    // Its copies of pages 0, 1, 2, and page 3's first frame (the parent copied away from it).
    EXPECT_EQ(child_gone.frames.pages, 4u);
    EXPECT_EQ(child_gone.still_shared, kPages - 4 + 1);  // pages 4-7, and rodata
    EXPECT_EQ(child_gone.frames.borrowed, 1u);
    EXPECT_EQ(child_gone.frames.tables, 5u);
    EXPECT_EQ(child_gone.count_refused + child_gone.frames.refused, 0u);
    EXPECT_TRUE(audit(w, {&parent}).ok());
    // Now the parent's write to a page the child shared is a take-over, not a copy.
    EXPECT_EQ(w.write(parent.space, data_page(5), 0xB005, &written), CowWriteOutcome::kTakenOver);
    const mm::CountedTeardownResult parent_gone = mm::destroy_counted(parent.space, w.memory, w.counts, w.frames);
    EXPECT_EQ(parent_gone.frames.pages, kPages + 1);
    EXPECT_EQ(parent_gone.still_shared, 0u);
    EXPECT_EQ(parent_gone.count_refused + parent_gone.frames.refused, 0u);

    EXPECT_EQ(w.counts.references(), 0u);
    EXPECT_EQ(w.counts.frames_held(), 0u);
    EXPECT_TRUE(w.frames.in_use(text));  // borrowed: never the processes' to return
    EXPECT_TRUE(w.frames.return_frame(text));
    EXPECT_TRUE(w.frames.return_frame(w.kernel));
    EXPECT_EQ(w.frames.free_count(), free_at_start + 1);  // the kernel PML4 was taken after the start
}

TEST(CopyOnWrite, ForAnyNKAndJCopiesAreWritesToSharedPagesAndEverythingComesBack) {
    // The child writes pages [0, k), then the parent [n - j, n): a page both
    // write is copied by the child and then taken over by the parent.
    for (unsigned n : {1u, 5u, 16u, 40u})
        for (unsigned k = 0; k <= n; k += n / 4 + 1)
            for (unsigned j = 0; j <= n; j += n / 3 + 1) {
                SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k << " j=" << j);
                CowWorld w;
                const size_t free_at_start = w.frames.free_count();
                Process parent(w), child(w);
                const PhysAddr text = build_parent(w, parent, n);
                mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts,
                                                                w.frames, w.tlb);
                ASSERT_TRUE(clone.ok());
                clone.flush.flush();
                const size_t free_after_fork = w.frames.free_count();
                unsigned copied = 0, taken_over = 0;
                bool written = false;
                for (unsigned i = 0; i < k; ++i) copied += w.write(child.space, data_page(i), 1, &written) == CowWriteOutcome::kCopied;
                for (unsigned i = n - j; i < n; ++i) {
                    const CowWriteOutcome outcome = w.write(parent.space, data_page(i), 2, &written);
                    copied += outcome == CowWriteOutcome::kCopied;
                    taken_over += outcome == CowWriteOutcome::kTakenOver;
                }
                const unsigned both = k + j > n ? k + j - n : 0;
                EXPECT_EQ(copied, k + j - both);  // every write to a page still shared, and no other
                EXPECT_EQ(taken_over, both);
                EXPECT_EQ(w.frames.free_count(), free_after_fork - copied);
                for (unsigned i = k; i < n - j; ++i)  // written by neither: one frame in both tables
                    EXPECT_EQ(w.leaf(parent.space, data_page(i))->address(), w.leaf(child.space, data_page(i))->address()) << i;
                EXPECT_TRUE(audit(w, {&parent, &child}).ok());
                for (Process* p : {&parent, &child}) {
                    const mm::CountedTeardownResult gone = mm::destroy_counted(p->space, w.memory, w.counts, w.frames);
                    EXPECT_EQ(gone.count_refused + gone.frames.refused, 0u);
                }
                EXPECT_EQ(w.counts.references(), 0u);
                EXPECT_EQ(w.counts.frames_held(), 0u);
                EXPECT_TRUE(w.frames.return_frame(text));
                EXPECT_TRUE(w.frames.return_frame(w.kernel));
                EXPECT_EQ(w.frames.free_count(), free_at_start + 1);
            }
}

TEST(CopyOnWrite, AForkOfAForkCountsThreeAndEveryCountReturnsToZero) {
    CowWorld w;
    const size_t free_at_start = w.frames.free_count();
    Process parent(w), child(w), grandchild(w);
    const PhysAddr text = build_parent(w, parent, 4);
    mm::CloneResult first = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(first.ok());
    first.flush.flush();
    mm::CloneResult second = mm::clone_copy_on_write(child.space, grandchild.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second.flush.pages(), 0u);  // the child's pages were copy-on-write already
    EXPECT_EQ(second.copy_on_write, 4u);
    second.flush.ignore();
    EXPECT_EQ(w.counts.count(w.leaf(parent.space, data_page(0))->address()), 3u);
    EXPECT_TRUE(audit(w, {&parent, &child, &grandchild}).ok());
    bool written = false;
    EXPECT_EQ(w.write(child.space, data_page(0), 1, &written), CowWriteOutcome::kCopied);
    EXPECT_EQ(w.write(grandchild.space, data_page(0), 2, &written), CowWriteOutcome::kCopied);
    EXPECT_EQ(w.write(parent.space, data_page(0), 3, &written), CowWriteOutcome::kTakenOver);
    EXPECT_TRUE(audit(w, {&parent, &child, &grandchild}).ok());
    EXPECT_FALSE(audit(w, {&parent, &child}).ok());  // leaving one out: the counts know of more leaves
    for (Process* p : {&child, &parent, &grandchild}) {
        const mm::CountedTeardownResult gone = mm::destroy_counted(p->space, w.memory, w.counts, w.frames);
        EXPECT_EQ(gone.count_refused + gone.frames.refused, 0u);
    }
    EXPECT_EQ(w.counts.references(), 0u);
    EXPECT_TRUE(w.frames.return_frame(text));
    EXPECT_TRUE(w.frames.return_frame(w.kernel));
    EXPECT_EQ(w.frames.free_count(), free_at_start + 1);
}

TEST(CopyOnWrite, MunmapAndMprotectOfASharedPageGoThroughTheCounts) {
    CowWorld w;
    Process parent(w), child(w);
    (void)build_parent(w, parent, 3);
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(clone.ok());
    clone.flush.flush();
    const PhysAddr shared = w.leaf(parent.space, data_page(0))->address();

    // munmap in the child: the frame stays (the parent maps it), count 2 -> 1.
    mm::UnmappedPage page;
    child.space.unmap_page(data_page(0), w.tlb, &page).flush();
    mm::ReleasedFrames released;
    EXPECT_FALSE(mm::release_unmapped_counted(page, w.counts, w.frames, released));
    EXPECT_EQ(released.pages, 0u);
    EXPECT_TRUE(w.frames.in_use(shared));
    EXPECT_EQ(w.counts.count(shared), 1u);
    EXPECT_EQ(w.read(parent.space, data_page(0)), parent_value(0));
    EXPECT_TRUE(audit(w, {&parent, &child}).ok());

    // mprotect(RW) of a page still shared keeps it read-only and copy-on-write ...
    const uint64_t asked = user_flags::kData;
    const PhysAddr still_shared = w.leaf(parent.space, data_page(1))->address();
    parent.space.protect_page(data_page(1), mm::counted_protect_flags(asked, w.counts.count(still_shared)), w.tlb).flush();
    EXPECT_FALSE(w.leaf(parent.space, data_page(1))->writable());
    EXPECT_TRUE(w.leaf(parent.space, data_page(1))->raw() & user_flags::kCopyOnWrite);
    EXPECT_TRUE(audit(w, {&parent, &child}).ok());
    // ... and of a page nobody else maps any more makes it writable, the bit gone.
    parent.space.protect_page(data_page(0), mm::counted_protect_flags(asked, w.counts.count(shared)), w.tlb).flush();
    EXPECT_TRUE(w.leaf(parent.space, data_page(0))->writable());
    EXPECT_FALSE(w.leaf(parent.space, data_page(0))->raw() & user_flags::kCopyOnWrite);
    // mprotect(R) of a shared page: read-only, and no longer copy-on-write (a write is a real fault).
    parent.space.protect_page(data_page(2), mm::counted_protect_flags(user_flags::kRodata, 2), w.tlb).flush();
    bool written = true;
    EXPECT_EQ(w.write(parent.space, data_page(2), 7, &written), CowWriteOutcome::kNotCopyOnWrite);
    EXPECT_FALSE(written);
    EXPECT_TRUE(audit(w, {&parent, &child}).ok());

    // munmap in the parent now: the last release, the frame goes back.
    parent.space.unmap_page(data_page(0), w.tlb, &page).flush();
    EXPECT_TRUE(mm::release_unmapped_counted(page, w.counts, w.frames, released));
    EXPECT_EQ(released.pages, 1u);
    EXPECT_FALSE(w.frames.in_use(shared));
    EXPECT_EQ(w.counts.count(shared), 0u);
    EXPECT_TRUE(audit(w, {&parent, &child}).ok());
}

// ---------------------------------------------------------------------------
// CountedFrames: the owner of the frames chapter 14 gives its processes
// (chapter 13's ProcessFrames seam: first touch, munmap, mprotect, exit)
// ---------------------------------------------------------------------------

namespace {

// A process whose pages come through the owner, as chapter 13's first touch
// maps them: borrowed text, counted rodata, `pages` data pages.
PhysAddr build_through(CowWorld& w, mm::CountedFrames& owner, Process& p, unsigned pages) {
    EXPECT_EQ(p.space.create(w.kernel), mm::UserMapStatus::kOk);
    const PhysAddr text = w.frames.alloc_frame().frame();
    EXPECT_EQ(owner.map_fresh(p.space, kText, text, user_flags::kText | user_flags::kBorrowed), mm::UserMapStatus::kOk);
    auto fresh = [&](VirtAddr va, uint64_t flags, uint64_t value) {
        const PhysAddr frame = w.frames.alloc_frame().frame();
        w.write_frame(frame, value);
        EXPECT_EQ(owner.map_fresh(p.space, va, frame, flags), mm::UserMapStatus::kOk) << std::hex << va.value();
    };
    fresh(kRodata, user_flags::kRodata, 0xdead);
    for (unsigned i = 0; i < pages; ++i) fresh(data_page(i), user_flags::kData, parent_value(i));
    return text;
}

// Every frame a process's leaves map.
std::set<uint64_t> leaf_frames(CowWorld& w, Process& p) {
    std::set<uint64_t> out;
    for (const auto& [va, raw] : w.leaves(p.space)) out.insert(mm::PageTableEntry::from_raw(raw).address().value());
    return out;
}

}  // namespace

TEST(CountedFrames, MapFreshClaimsAndARefusedMapLeavesTheCountAsItWas) {
    CowWorld w;
    mm::CountedFrames owner(w.memory, w.counts, w.frames);
    Process p(w);
    ASSERT_EQ(p.space.create(w.kernel), mm::UserMapStatus::kOk);
    const PhysAddr first = w.frames.alloc_frame().frame();
    const PhysAddr second = w.frames.alloc_frame().frame();
    ASSERT_EQ(owner.map_fresh(p.space, kData, first, user_flags::kData), mm::UserMapStatus::kOk);
    EXPECT_EQ(w.counts.count(first), 1u);  // claimed: 0 -> 1
    EXPECT_EQ(w.counts.references(), 1u);
    ASSERT_NE(w.leaf(p.space, kData), nullptr);
    EXPECT_EQ(w.leaf(p.space, kData)->address(), first);

    // Each refusal of the map leaves the new frame's count at 0 and the
    // mapped one's at 1: the frame is still the caller's to give back.
    EXPECT_EQ(owner.map_fresh(p.space, kData, second, user_flags::kData), mm::UserMapStatus::kAlreadyMapped);
    EXPECT_EQ(owner.map_fresh(p.space, data_page(1), second, user_flags::kData & ~x86::pte::kNoExecute),
              mm::UserMapStatus::kWritableExecutable);
    EXPECT_EQ(owner.map_fresh(p.space, VirtAddr(0x1000), second, user_flags::kData), mm::UserMapStatus::kBelowUserLowest);
    w.frames.set_limit(0);  // 1 GiB up: a new PD and PT, and no frame for them
    EXPECT_EQ(owner.map_fresh(p.space, VirtAddr(0x4000'0000), second, user_flags::kData),
              mm::UserMapStatus::kOutOfTableFrames);
    w.frames.unlimit();
    EXPECT_EQ(w.counts.count(second), 0u);
    EXPECT_EQ(w.counts.count(first), 1u);
    EXPECT_EQ(w.counts.references(), 1u);
    EXPECT_EQ(w.leaf(p.space, kData)->address(), first);
    EXPECT_EQ(w.leaf(p.space, data_page(1)), nullptr);
    EXPECT_EQ(owner.count_refused(), 0u);  // refused by the tables, not by the counts

    // A "fresh" frame the counts already hold: the allocator and the counts
    // disagree. Refused, counted as such, nothing mapped, the count unchanged.
    EXPECT_EQ(owner.map_fresh(p.space, data_page(1), first, user_flags::kData), mm::UserMapStatus::kAlreadyMapped);
    EXPECT_EQ(owner.count_refused(), 1u);
    EXPECT_EQ(w.counts.count(first), 1u);
    EXPECT_EQ(w.leaf(p.space, data_page(1)), nullptr);

    // Borrowed text is mapped without a count.
    const PhysAddr text = w.frames.alloc_frame().frame();
    EXPECT_EQ(owner.map_fresh(p.space, kText, text, user_flags::kText | user_flags::kBorrowed), mm::UserMapStatus::kOk);
    EXPECT_EQ(w.counts.count(text), 0u);
    EXPECT_EQ(w.counts.references(), 1u);
    EXPECT_TRUE(w.leaf(p.space, kText)->raw() & user_flags::kBorrowed);
    EXPECT_EQ(owner.count_refused(), 1u);
}

TEST(CountedFrames, ProtectFlagsKeepASharedFrameReadOnlyAndCopyOnWriteAndMakeAnUnsharedOneWritable) {
    CowWorld w;
    mm::CountedFrames owner(w.memory, w.counts, w.frames);
    Process parent(w), child(w);
    (void)build_through(w, owner, parent, 2);
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(clone.ok());
    clone.flush.flush();
    namespace pte = x86::pte;
    const uint64_t read_only_cow = (user_flags::kData & ~pte::kWritable) | user_flags::kCopyOnWrite;

    // Shared (count 2): mprotect(RW) keeps it read-only and copy-on-write,
    // with the other rights it asked for.
    const mm::PageTableEntry shared = *w.leaf(parent.space, data_page(0));
    ASSERT_EQ(w.counts.count(shared.address()), 2u);
    EXPECT_EQ(owner.protect_flags(shared, user_flags::kData), read_only_cow);
    // Applied, the first write still copies, and the child still reads the old value.
    parent.space.protect_page(data_page(0), owner.protect_flags(shared, user_flags::kData), w.tlb).flush();
    bool written = false;
    EXPECT_EQ(w.write(parent.space, data_page(0), 0xB000, &written), CowWriteOutcome::kCopied);
    EXPECT_TRUE(written);
    EXPECT_EQ(w.read(child.space, data_page(0)), parent_value(0));
    EXPECT_TRUE(audit(w, {&parent, &child}).ok());

    // Count 1 (the parent copied away from it): what was asked, writable, the bit gone.
    const mm::PageTableEntry alone = *w.leaf(child.space, data_page(0));
    ASSERT_EQ(w.counts.count(alone.address()), 1u);
    ASSERT_TRUE(alone.raw() & user_flags::kCopyOnWrite);
    EXPECT_EQ(owner.protect_flags(alone, user_flags::kData), user_flags::kData);
    // Asking for read-only, shared or not: read-only, and no longer copy-on-write.
    const mm::PageTableEntry still_shared = *w.leaf(child.space, data_page(1));
    ASSERT_EQ(w.counts.count(still_shared.address()), 2u);
    EXPECT_EQ(owner.protect_flags(still_shared, user_flags::kRodata), user_flags::kRodata);
    EXPECT_EQ(owner.protect_flags(alone, user_flags::kRodata), user_flags::kRodata);
    // A borrowed leaf is never counted: what was asked, without the bit.
    const mm::PageTableEntry text = *w.leaf(child.space, kText);
    EXPECT_EQ(owner.protect_flags(text, user_flags::kRodata | user_flags::kCopyOnWrite), user_flags::kRodata);
}

TEST(CountedFrames, ReleaseGivesAFrameBackOnlyAtItsLastRelease) {
    CowWorld w;
    mm::CountedFrames owner(w.memory, w.counts, w.frames);
    Process parent(w), child(w);
    const PhysAddr text = build_through(w, owner, parent, 2);
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(clone.ok());
    clone.flush.flush();
    const PhysAddr page0 = w.leaf(parent.space, data_page(0))->address();
    const PhysAddr page1 = w.leaf(parent.space, data_page(1))->address();
    auto unmap = [&](Process& who, VirtAddr va, mm::ReleasedFrames& out) {
        mm::UnmappedPage page;
        who.space.unmap_page(va, w.tlb, &page).flush();
        owner.release(who.space, page, out);
    };

    // The child lets go of page 0 first: the parent still maps it.
    mm::ReleasedFrames out;
    unmap(child, data_page(0), out);
    EXPECT_EQ(out.pages, 0u);
    EXPECT_EQ(out.tables, 0u);  // page 1 keeps the child's page table
    EXPECT_EQ(owner.still_shared(), 1u);
    EXPECT_TRUE(w.frames.in_use(page0));
    EXPECT_EQ(w.counts.count(page0), 1u);
    EXPECT_EQ(w.read(parent.space, data_page(0)), parent_value(0));
    EXPECT_TRUE(audit(w, {&parent, &child}).ok());

    // The parent's is the last release: the frame goes back.
    unmap(parent, data_page(0), out);
    EXPECT_EQ(out.pages, 1u);
    EXPECT_EQ(owner.still_shared(), 1u);
    EXPECT_FALSE(w.frames.in_use(page0));
    EXPECT_EQ(w.counts.count(page0), 0u);

    // The child's last data page: still shared, but its page table emptied and goes back.
    unmap(child, data_page(1), out);
    EXPECT_EQ(out.pages, 1u);
    EXPECT_EQ(out.tables, 1u);
    EXPECT_EQ(owner.still_shared(), 2u);
    EXPECT_TRUE(w.frames.in_use(page1));
    EXPECT_EQ(w.counts.count(page1), 1u);

    // Borrowed text: unmapped and kept, never counted, never shared.
    unmap(child, kText, out);
    EXPECT_EQ(out.borrowed, 1u);
    EXPECT_EQ(out.pages, 1u);
    EXPECT_EQ(owner.still_shared(), 2u);
    EXPECT_TRUE(w.frames.in_use(text));
    EXPECT_EQ(out.refused, 0u);
    EXPECT_EQ(owner.count_refused(), 0u);
    EXPECT_TRUE(audit(w, {&parent, &child}).ok());
}

TEST(CountedFrames, ReleaseAllAfterACloneReturnsExactlyTheFramesNobodyElseMaps) {
    constexpr unsigned kPages = 6;
    CowWorld w;
    const size_t free_at_start = w.frames.free_count();
    mm::CountedFrames owner(w.memory, w.counts, w.frames);
    Process parent(w), child(w);
    const PhysAddr text = build_through(w, owner, parent, kPages);
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(clone.ok());
    clone.flush.flush();
    // The child copies pages 0 and 1; the parent copies page 2 away from the child.
    bool written = false;
    for (unsigned i : {0u, 1u}) ASSERT_EQ(w.write(child.space, data_page(i), 0xC000 + i, &written), CowWriteOutcome::kCopied);
    ASSERT_EQ(w.write(parent.space, data_page(2), 0xB002, &written), CowWriteOutcome::kCopied);

    // What the child alone maps: its two copies, and page 2's first frame.
    const std::set<uint64_t> parents = leaf_frames(w, parent), childs = leaf_frames(w, child);
    std::set<uint64_t> only_child;
    for (uint64_t f : childs)
        if (!parents.count(f)) only_child.insert(f);
    ASSERT_EQ(only_child.size(), 3u);
    const size_t free_before = w.frames.free_count();

    const mm::ReleasedFrames gone = owner.release_all(child.space);
    EXPECT_EQ(gone.pages, only_child.size());
    EXPECT_EQ(gone.tables, clone.child_tables);
    EXPECT_EQ(gone.borrowed, 1u);
    EXPECT_EQ(gone.refused, 0u);
    EXPECT_EQ(owner.still_shared(), kPages - 3 + 1);  // pages 3-5 and rodata
    EXPECT_EQ(owner.count_refused(), 0u);
    EXPECT_EQ(w.frames.free_count(), free_before + gone.pages + gone.tables);
    for (uint64_t f : childs) {
        const bool kept = parents.count(f) != 0;
        EXPECT_EQ(w.frames.in_use(PhysAddr(f)), kept) << std::hex << f;  // exactly the frames nobody else maps went back
        if (kept && f != text.value()) {
            EXPECT_EQ(w.counts.count(PhysAddr(f)), 1u) << std::hex << f;
        }
    }
    EXPECT_EQ(w.read(parent.space, data_page(0)), parent_value(0));
    EXPECT_EQ(w.read(parent.space, data_page(2)), 0xB002u);
    EXPECT_TRUE(audit(w, {&parent}).ok());

    // The parent is the last: every frame it maps goes back, and every count is 0.
    const mm::ReleasedFrames last = owner.release_all(parent.space);
    EXPECT_EQ(last.pages, kPages + 1);
    EXPECT_EQ(owner.still_shared(), kPages - 3 + 1);
    EXPECT_EQ(w.counts.references(), 0u);
    EXPECT_EQ(w.counts.frames_held(), 0u);
    EXPECT_TRUE(w.frames.in_use(text));  // borrowed: never the processes' to return
    EXPECT_TRUE(w.frames.return_frame(text));
    EXPECT_TRUE(w.frames.return_frame(w.kernel));
    EXPECT_EQ(w.frames.free_count(), free_at_start + 1);  // the kernel PML4 was taken after the start
}

// ---------------------------------------------------------------------------
// Refusals: all or nothing
// ---------------------------------------------------------------------------

TEST(CopyOnWrite, RunningOutOfFramesAtEveryStepOfACloneChangesNothing) {
    CowWorld w;
    Process parent(w);
    (void)build_parent(w, parent, 6);
    const auto parent_before = w.leaves(parent.space);
    std::map<uint64_t, uint32_t> counts_before;
    for (const auto& [va, raw] : parent_before) counts_before[va] = w.counts.count(mm::PageTableEntry::from_raw(raw).address());
    const uint64_t references_before = w.counts.references();
    const size_t free_before = w.frames.free_count();
    for (size_t limit = 0; limit < 5; ++limit) {  // the clone needs 5 tables
        Process child(w);
        w.frames.set_limit(limit);
        mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
        w.frames.unlimit();
        EXPECT_EQ(clone.status, CloneStatus::kOutOfFrames) << limit;
        EXPECT_EQ(clone.map_status, mm::UserMapStatus::kOutOfTableFrames) << limit;
        EXPECT_FALSE(clone.flush.pending());
        EXPECT_EQ(child.space.pml4().value(), 0u) << limit;  // left uncreated
        EXPECT_EQ(w.leaves(parent.space), parent_before) << limit;
        for (const auto& [va, raw] : parent_before)
            EXPECT_EQ(w.counts.count(mm::PageTableEntry::from_raw(raw).address()), counts_before[va]) << limit;
        EXPECT_EQ(w.counts.references(), references_before) << limit;
        EXPECT_EQ(w.frames.free_count(), free_before) << limit;
        EXPECT_TRUE(w.tlb.pages.empty());
        EXPECT_TRUE(audit(w, {&parent}).ok());
    }
    EXPECT_STREQ(mm::name(CloneStatus::kOutOfFrames), "out-of-frames");
    Process child(w);
    w.frames.set_limit(5);
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    EXPECT_TRUE(clone.ok());
    clone.flush.ignore();
}

TEST(CopyOnWrite, ASaturatedCountRefusesTheForkByNameAndUndoesTheOthers) {
    CowWorld w;
    Process parent(w), child(w);
    (void)build_parent(w, parent, 4);
    const PhysAddr last = w.leaf(parent.space, data_page(3))->address();
    while (w.counts.count(last) < mm::FrameRefCounts::kMaxCount) ASSERT_TRUE(w.counts.share(last).ok());
    const uint64_t references_before = w.counts.references();
    const auto parent_before = w.leaves(parent.space);
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    EXPECT_EQ(clone.status, CloneStatus::kCountRefused);
    EXPECT_EQ(clone.count_status, RefCountStatus::kSaturated);
    EXPECT_EQ(clone.failed_at, data_page(3));
    EXPECT_EQ(w.counts.references(), references_before);
    EXPECT_EQ(w.counts.count(w.leaf(parent.space, data_page(0))->address()), 1u);
    EXPECT_EQ(w.leaves(parent.space), parent_before);
    EXPECT_EQ(child.space.pml4().value(), 0u);
    // A child already created is refused before anything is touched.
    Process used(w);
    ASSERT_EQ(used.space.create(w.kernel), mm::UserMapStatus::kOk);
    mm::CloneResult again = mm::clone_copy_on_write(parent.space, used.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    EXPECT_EQ(again.status, CloneStatus::kChildInUse);
}

// ---------------------------------------------------------------------------
// The write fault's answers
// ---------------------------------------------------------------------------

TEST(CowWriteFault, ReadOnlyAndUnmappedPagesAreNotCopyOnWriteAndRunningOutChangesNothing) {
    CowWorld w;
    Process parent(w), child(w);
    (void)build_parent(w, parent, 2);
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(clone.ok());
    clone.flush.flush();
    auto resolve = [&](Process& p, VirtAddr va) {
        mm::CowWriteResult r = mm::resolve_cow_write(p.space, va, w.memory, w.counts, w.frames, w.tlb);
        if (r.leaf_changed()) r.take_flush().flush();
        return r.outcome();
    };
    EXPECT_EQ(resolve(child, kRodata), CowWriteOutcome::kNotCopyOnWrite);  // a real protection fault
    EXPECT_EQ(resolve(child, kText), CowWriteOutcome::kNotCopyOnWrite);
    EXPECT_EQ(resolve(child, VirtAddr(0x7000'0000)), CowWriteOutcome::kNotCopyOnWrite);  // no table
    EXPECT_EQ(resolve(child, data_page(2)), CowWriteOutcome::kNotCopyOnWrite);  // table, no leaf

    const auto before = w.leaves(child.space);
    const uint64_t references = w.counts.references();
    w.frames.set_limit(0);
    EXPECT_EQ(resolve(child, data_page(1) + 0x123), CowWriteOutcome::kOutOfFrames);
    w.frames.unlimit();
    EXPECT_EQ(w.leaves(child.space), before);
    EXPECT_EQ(w.counts.references(), references);

    w.tlb.pages.clear();
    mm::CowWriteResult copied = mm::resolve_cow_write(child.space, data_page(1) + 0x123, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_EQ(copied.outcome(), CowWriteOutcome::kCopied);
    EXPECT_NE(copied.from(), copied.to());
    EXPECT_EQ(w.read_frame(copied.to()), w.read_frame(copied.from()));  // the page's contents came along
    EXPECT_EQ(w.counts.count(copied.from()), 1u);
    EXPECT_EQ(w.counts.count(copied.to()), 1u);
    mm::TlbFlush flush = copied.take_flush();
    EXPECT_EQ(flush.page(), data_page(1));
    flush.flush();
    EXPECT_EQ(w.tlb.pages, std::vector<uint64_t>{data_page(1).value()});
    EXPECT_STREQ(mm::name(CowWriteOutcome::kTakenOver), "taken-over");
}

// ---------------------------------------------------------------------------
// The write fault alone, over pages shared by hand (no clone), and the clone
// alone (no write fault): chapter 14's lab grades each piece by one of these
// suites, so a mistake in one piece fails only its own tests.
// ---------------------------------------------------------------------------

namespace {

constexpr uint64_t kCowData = (user_flags::kData & ~x86::pte::kWritable) | user_flags::kCopyOnWrite;

uint64_t pattern(uint64_t fill, unsigned word) { return fill * 0x1'0000'0000ull + word * 8 + 1; }

// One frame, every word of it `fill`'s pattern, mapped read-only and
// copy-on-write at `va` in each of `sharers` (created already) and counted
// once per leaf: what a clone leaves behind, without running one.
PhysAddr share_by_hand(CowWorld& w, std::initializer_list<Process*> sharers, VirtAddr va, uint64_t fill) {
    const PhysAddr frame = w.frames.alloc_frame().frame();
    mm::PageTable& t = *w.memory.table_at(frame);
    for (unsigned i = 0; i < 512; ++i) t.entries[i] = mm::PageTableEntry::from_raw(pattern(fill, i));
    bool first = true;
    for (Process* p : sharers) {
        if (first) {
            EXPECT_TRUE(map_counted_page(p->space, va, frame, kCowData, w.counts).ok());
        } else {
            EXPECT_TRUE(w.counts.share(frame).ok());
            EXPECT_EQ(p->space.map_page(va, frame, kCowData), mm::UserMapStatus::kOk);
        }
        first = false;
    }
    return frame;
}

bool holds_pattern(CowWorld& w, PhysAddr frame, uint64_t fill) {
    const mm::PageTable& t = *w.memory.table_at(frame);
    for (unsigned i = 0; i < 512; ++i)
        if (t.entries[i].raw() != pattern(fill, i)) return false;
    return true;
}

// The fault at `address` in `p`, its flush taken and done.
CowWriteOutcome fault(CowWorld& w, Process& p, VirtAddr address) {
    mm::CowWriteResult r = mm::resolve_cow_write(p.space, address, w.memory, w.counts, w.frames, w.tlb);
    if (r.leaf_changed()) r.take_flush().flush();
    return r.outcome();
}

}  // namespace

TEST(ResolveCowWrite, AWriteToASharedPageCopiesItAndTheOtherSideKeepsTheOldFrame) {
    CowWorld w;
    Process a(w), b(w);
    ASSERT_EQ(a.space.create(w.kernel), mm::UserMapStatus::kOk);
    ASSERT_EQ(b.space.create(w.kernel), mm::UserMapStatus::kOk);
    const PhysAddr shared = share_by_hand(w, {&a, &b}, kData, 7);
    // The CPU has set A and D on a's leaf: a copy starts without them.
    mm::PageTableEntry* a_leaf = mm::user_leaf(w.memory, a.space.pml4(), kData);
    *a_leaf = mm::PageTableEntry::from_raw(a_leaf->raw() | x86::pte::kAccessed | x86::pte::kDirty);
    const uint64_t b_before = w.leaf(b.space, kData)->raw();
    const size_t free_before = w.frames.free_count();
    const uint64_t references = w.counts.references();

    mm::CowWriteResult r = mm::resolve_cow_write(a.space, kData + 0x7f8, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_EQ(r.outcome(), CowWriteOutcome::kCopied) << "count 2: someone else maps the frame, so the writer copies";
    EXPECT_TRUE(r.leaf_changed());
    EXPECT_EQ(r.from(), shared);
    EXPECT_NE(r.to(), shared);
    EXPECT_EQ(w.frames.free_count(), free_before - 1);  // one fresh frame, from the one FrameSource
    EXPECT_TRUE(holds_pattern(w, r.to(), 7)) << "the copy holds all 4 KiB of the shared page";
    EXPECT_TRUE(holds_pattern(w, shared, 7)) << "the shared frame is left as it was";
    // The writer's leaf: the new frame, writable, copy-on-write no more, the
    // rest of its rights kept, A and D cleared.
    const mm::PageTableEntry mine = *w.leaf(a.space, kData);
    EXPECT_EQ(mine.address(), r.to());
    EXPECT_EQ(mine.raw() & ~x86::pte::kAddressMask, user_flags::kData) << std::hex << mine.raw();
    // The other side: untouched, still read-only and copy-on-write over the old frame.
    EXPECT_EQ(w.leaf(b.space, kData)->raw(), b_before);
    // Counts: the old frame one fewer (b still maps it), the new one claimed.
    EXPECT_EQ(w.counts.count(shared), 1u);
    EXPECT_EQ(w.counts.count(r.to()), 1u);
    EXPECT_EQ(w.counts.references(), references);
    // The changed leaf's flush: the page, once.
    w.tlb.pages.clear();
    mm::TlbFlush flush = r.take_flush();
    EXPECT_EQ(flush.page(), kData);
    flush.flush();
    EXPECT_EQ(w.tlb.pages, std::vector<uint64_t>{kData.value()});
}

TEST(ResolveCowWrite, TheLastReferenceIsTakenOverWithoutACopy) {
    CowWorld w;
    Process a(w), b(w);
    ASSERT_EQ(a.space.create(w.kernel), mm::UserMapStatus::kOk);
    ASSERT_EQ(b.space.create(w.kernel), mm::UserMapStatus::kOk);
    const PhysAddr shared = share_by_hand(w, {&a, &b}, kData, 9);
    ASSERT_EQ(fault(w, a, kData), CowWriteOutcome::kCopied);
    // b is now the frame's only mapping: its write takes it over, no frame spent.
    const size_t free_before = w.frames.free_count();
    w.frames.set_limit(0);  // a copy would be refused: the take-over needs none
    w.tlb.pages.clear();
    mm::CowWriteResult r = mm::resolve_cow_write(b.space, kData + 8, w.memory, w.counts, w.frames, w.tlb);
    w.frames.unlimit();
    ASSERT_EQ(r.outcome(), CowWriteOutcome::kTakenOver) << "count 1: nobody else maps the frame";
    EXPECT_EQ(r.from(), shared);
    EXPECT_EQ(r.to(), shared);
    mm::TlbFlush flush = r.take_flush();
    EXPECT_EQ(flush.page(), kData);
    flush.flush();
    EXPECT_EQ(w.tlb.pages, std::vector<uint64_t>{kData.value()});
    EXPECT_EQ(w.frames.free_count(), free_before);
    const mm::PageTableEntry mine = *w.leaf(b.space, kData);
    EXPECT_EQ(mine.address(), shared);
    EXPECT_TRUE(mine.writable());
    EXPECT_FALSE(mine.raw() & user_flags::kCopyOnWrite);
    EXPECT_EQ(w.counts.count(shared), 1u);
    EXPECT_TRUE(holds_pattern(w, shared, 9));
    // Written now, a second write takes no fault of this kind.
    EXPECT_EQ(fault(w, b, kData), CowWriteOutcome::kNotCopyOnWrite);
}

TEST(ResolveCowWrite, NSharersWriteInTurnNMinusOneCopiesThenATakeOver) {
    CowWorld w;
    std::vector<std::unique_ptr<Process>> ps;
    for (int i = 0; i < 4; ++i) {
        ps.push_back(std::make_unique<Process>(w));
        ASSERT_EQ(ps.back()->space.create(w.kernel), mm::UserMapStatus::kOk);
    }
    const PhysAddr shared = share_by_hand(w, {ps[0].get(), ps[1].get(), ps[2].get(), ps[3].get()}, data_page(3), 3);
    std::vector<CowWriteOutcome> outcomes;
    std::set<uint64_t> frames;
    for (auto& p : ps) {
        outcomes.push_back(fault(w, *p, data_page(3)));
        frames.insert(w.leaf(p->space, data_page(3))->address().value());
        EXPECT_TRUE(holds_pattern(w, w.leaf(p->space, data_page(3))->address(), 3));
    }
    EXPECT_EQ(outcomes, (std::vector<CowWriteOutcome>{CowWriteOutcome::kCopied, CowWriteOutcome::kCopied,
                                                     CowWriteOutcome::kCopied, CowWriteOutcome::kTakenOver}));
    EXPECT_EQ(frames.size(), 4u);  // each its own frame now, the last the original
    EXPECT_EQ(w.leaf(ps[3]->space, data_page(3))->address(), shared);
    for (uint64_t f : frames) EXPECT_EQ(w.counts.count(PhysAddr(f)), 1u) << std::hex << f;
    EXPECT_EQ(w.counts.references(), 4u);
}

TEST(ResolveCowWrite, ANonCopyOnWritePageAndRunningOutOfFramesChangeNothing) {
    CowWorld w;
    Process a(w), b(w);
    ASSERT_EQ(a.space.create(w.kernel), mm::UserMapStatus::kOk);
    ASSERT_EQ(b.space.create(w.kernel), mm::UserMapStatus::kOk);
    const PhysAddr shared = share_by_hand(w, {&a, &b}, kData, 5);
    ASSERT_TRUE(w.map_fresh(a.space, kRodata, user_flags::kRodata, 1));  // read-only, not copy-on-write
    const PhysAddr text = w.frames.alloc_frame().frame();
    ASSERT_TRUE(map_counted_page(a.space, kText, text, user_flags::kText | user_flags::kBorrowed, w.counts).ok());
    const auto before = w.leaves(a.space);
    const uint64_t references = w.counts.references();
    const size_t free_before = w.frames.free_count();
    EXPECT_EQ(fault(w, a, kRodata), CowWriteOutcome::kNotCopyOnWrite);  // a real protection fault
    EXPECT_EQ(fault(w, a, kText), CowWriteOutcome::kNotCopyOnWrite);
    EXPECT_EQ(fault(w, a, data_page(1)), CowWriteOutcome::kNotCopyOnWrite);  // a table, no leaf
    EXPECT_EQ(fault(w, a, VirtAddr(0x7000'0000)), CowWriteOutcome::kNotCopyOnWrite);  // no table at all
    w.frames.set_limit(0);
    EXPECT_EQ(fault(w, a, kData + 0x10), CowWriteOutcome::kOutOfFrames);  // shared: a copy, and no frame for it
    w.frames.unlimit();
    EXPECT_TRUE(w.tlb.pages.empty());
    EXPECT_EQ(w.leaves(a.space), before);
    EXPECT_EQ(w.counts.references(), references);
    EXPECT_EQ(w.counts.count(shared), 2u);
    EXPECT_EQ(w.frames.free_count(), free_before);
}

TEST(CloneCopyOnWrite, TheChildMapsTheParentsFramesAndBothAreReadOnlyAndCopyOnWrite) {
    constexpr unsigned kPages = 5;
    CowWorld w;
    Process parent(w), child(w);
    const PhysAddr text = build_parent(w, parent, kPages);
    const auto parent_before = w.leaves(parent.space);
    const size_t free_before = w.frames.free_count();
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(clone.ok()) << mm::describe(clone.status);
    EXPECT_EQ(clone.copy_on_write, kPages);
    EXPECT_EQ(clone.shared_read_only, 1u);
    EXPECT_EQ(clone.borrowed, 1u);
    EXPECT_EQ(clone.child_tables, 5u);  // PML4, PDPT, PD, two PTs
    EXPECT_EQ(w.frames.free_count(), free_before - clone.child_tables);  // tables only: no page is copied
    // The child's upper half is the kernel's.
    for (unsigned slot = 256; slot < 512; ++slot)
        ASSERT_EQ(w.memory.table_at(child.space.pml4())->entries[slot].raw(),
                  w.memory.table_at(w.kernel)->entries[slot].raw()) << slot;
    // The parent's write-protected leaves are flushed, each once, and no other.
    EXPECT_EQ(clone.flush.pages(), kPages);
    EXPECT_TRUE(w.tlb.pages.empty()) << "nothing is invalidated before the flush is asked for";
    EXPECT_EQ(clone.flush.flush(), kPages);
    std::vector<uint64_t> invalidated = w.tlb.pages;
    std::sort(invalidated.begin(), invalidated.end());
    std::vector<uint64_t> data;
    for (unsigned i = 0; i < kPages; ++i) data.push_back(data_page(i).value());
    EXPECT_EQ(invalidated, data);

    const auto p = w.leaves(parent.space), c = w.leaves(child.space);
    ASSERT_EQ(p.size(), kPages + 2);
    ASSERT_EQ(c.size(), kPages + 2);
    for (const auto& [va, raw] : parent_before) {
        SCOPED_TRACE(testing::Message() << std::hex << va);
        const mm::PageTableEntry before = mm::PageTableEntry::from_raw(raw);
        const mm::PageTableEntry pe = mm::PageTableEntry::from_raw(p.at(va)), ce = mm::PageTableEntry::from_raw(c.at(va));
        EXPECT_EQ(pe.address(), before.address());  // the parent keeps its frames ...
        EXPECT_EQ(ce.address(), before.address());  // ... and the child maps the same ones
        const uint64_t rights = raw & ~x86::pte::kAddressMask & ~(x86::pte::kAccessed | x86::pte::kDirty);
        if (before.writable()) {  // writable: read-only + copy-on-write on both sides
            EXPECT_EQ(p.at(va) & ~x86::pte::kAddressMask, (rights & ~x86::pte::kWritable) | user_flags::kCopyOnWrite);
            EXPECT_EQ(c.at(va) & ~x86::pte::kAddressMask, (rights & ~x86::pte::kWritable) | user_flags::kCopyOnWrite);
        } else {  // read-only and borrowed: shared as they are
            EXPECT_EQ(p.at(va), raw);
            EXPECT_EQ(c.at(va) & ~x86::pte::kAddressMask, rights);
        }
        EXPECT_EQ(w.counts.count(before.address()), va == kText.value() ? 0u : 2u);
    }
    EXPECT_EQ(w.counts.references(), 2 * (kPages + 1));
    EXPECT_TRUE(w.frames.in_use(text));
    const mm::CowAudit audited = audit(w, {&parent, &child});
    EXPECT_TRUE(audited.ok());
    EXPECT_EQ(audited.copy_on_write, 2 * kPages);
}

TEST(CloneCopyOnWrite, AForkOfAForkRaisesEachCountAgainAndBothExitsReturnEverything) {
    CowWorld w;
    const size_t free_at_start = w.frames.free_count();
    Process parent(w), child(w), grandchild(w);
    const PhysAddr text = build_parent(w, parent, 3);
    mm::CloneResult first = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first.flush.flush(), 3u);
    w.tlb.pages.clear();
    mm::CloneResult second = mm::clone_copy_on_write(child.space, grandchild.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(second.copy_on_write, 3u);  // copy-on-write stays copy-on-write
    EXPECT_EQ(second.flush.pages(), 0u);  // nothing was writable in the child
    EXPECT_EQ(second.flush.flush(), 0u);  // so no writable translation of it can be stale: nothing to invalidate
    EXPECT_TRUE(w.tlb.pages.empty());
    for (unsigned i = 0; i < 3; ++i) {
        const mm::PageTableEntry* g = w.leaf(grandchild.space, data_page(i));
        ASSERT_NE(g, nullptr);
        EXPECT_FALSE(g->writable());
        EXPECT_TRUE(g->raw() & user_flags::kCopyOnWrite);
        EXPECT_EQ(g->address(), w.leaf(parent.space, data_page(i))->address());
        EXPECT_EQ(w.counts.count(g->address()), 3u);
    }
    EXPECT_TRUE(audit(w, {&parent, &child, &grandchild}).ok());
    for (Process* p : {&parent, &grandchild, &child}) {
        const mm::CountedTeardownResult gone = mm::destroy_counted(p->space, w.memory, w.counts, w.frames);
        EXPECT_EQ(gone.count_refused + gone.frames.refused, 0u);
    }
    EXPECT_EQ(w.counts.references(), 0u);
    EXPECT_TRUE(w.frames.return_frame(text));
    EXPECT_TRUE(w.frames.return_frame(w.kernel));
    EXPECT_EQ(w.frames.free_count(), free_at_start + 1);
}

// ---------------------------------------------------------------------------
// Planted mistakes: each one fails the audit (and the tests above)
// ---------------------------------------------------------------------------

TEST(CowAudit, AParentLeftWritableIsFound) {
    CowWorld w;
    Process parent(w), child(w);
    (void)build_parent(w, parent, 3);
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(clone.ok());
    clone.flush.flush();
    // "Forgot to write-protect the parent": its leaf writable over the shared frame.
    mm::PageTableEntry* leaf = mm::user_leaf(w.memory, parent.space.pml4(), data_page(1));
    *leaf = mm::PageTableEntry::from_raw((leaf->raw() | x86::pte::kWritable) & ~user_flags::kCopyOnWrite);
    const mm::CowAudit found = audit(w, {&parent, &child});
    EXPECT_FALSE(found.ok());
    EXPECT_EQ(found.writable_shared, 1u);
    EXPECT_EQ(found.first_bad, data_page(1));
    EXPECT_EQ(found.first_bad_space, 0u);
    // A copy-on-write leaf that is writable.
    *leaf = mm::PageTableEntry::from_raw(leaf->raw() | user_flags::kCopyOnWrite);
    EXPECT_EQ(audit(w, {&parent, &child}).writable_cow, 1u);
}

TEST(CowAudit, ReleasingWithoutTheCountsIsFound) {
    CowWorld w;
    Process parent(w), child(w);
    (void)build_parent(w, parent, 3);
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(clone.ok());
    clone.flush.flush();
    // "Released without the count": chapter 12's destroy() gives back frames the parent still maps.
    const mm::ReleasedFrames plain = child.space.destroy(w.frames);
    EXPECT_EQ(plain.pages, 4u);
    const mm::CowAudit found = audit(w, {&parent});
    EXPECT_FALSE(found.ok());
    EXPECT_EQ(found.count_mismatch, 4u);  // count 2, one leaf left
    EXPECT_EQ(found.unaccounted, 4u);
    EXPECT_TRUE(w.frames.free_count() > 0 && !w.frames.in_use(w.leaf(parent.space, data_page(0))->address()));
}

TEST(CowAudit, ACountNotRaisedIsFound) {
    CowWorld w;
    Process parent(w), child(w);
    (void)build_parent(w, parent, 2);
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    ASSERT_TRUE(clone.ok());
    clone.flush.ignore();
    ASSERT_TRUE(w.counts.release(w.leaf(parent.space, data_page(0))->address()).ok());
    const mm::CowAudit found = audit(w, {&parent, &child}, false);
    EXPECT_EQ(found.count_mismatch, 2u);  // both leaves over the frame see count 1
    // And tearing down through the counts then frees the frame while the other side maps it:
    const mm::CountedTeardownResult gone = mm::destroy_counted(child.space, w.memory, w.counts, w.frames);
    EXPECT_EQ(gone.frames.pages, 1u);
    EXPECT_FALSE(audit(w, {&parent}).ok());
}

// ---------------------------------------------------------------------------
// The flush obligations cannot be dropped
// ---------------------------------------------------------------------------

namespace {

void fork_and_drop_the_flush() {
    CowWorld w;
    Process parent(w);
    Process child(w);
    (void)build_parent(w, parent, 2);
    (void)mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
}

void write_and_drop_the_flush() {
    CowWorld w;
    Process parent(w);
    Process child(w);
    (void)build_parent(w, parent, 2);
    mm::CloneResult clone = mm::clone_copy_on_write(parent.space, child.space, w.kernel, w.memory, w.counts, w.frames, w.tlb);
    clone.flush.flush();
    (void)mm::resolve_cow_write(child.space, data_page(0), w.memory, w.counts, w.frames, w.tlb);
}

}  // namespace

TEST(CopyOnWriteDeathTest, AForkWhoseFlushIsDroppedStopsAtTheAssert) {
    EXPECT_DEATH(fork_and_drop_the_flush(), "a WriteProtectFlush must end in flush\\(\\) or ignore\\(\\)");
}

TEST(CopyOnWriteDeathTest, AWriteFaultWhoseFlushIsNotTakenStopsAtTheAssert) {
    EXPECT_DEATH(write_and_drop_the_flush(), "a changed leaf's flush must be taken");
}

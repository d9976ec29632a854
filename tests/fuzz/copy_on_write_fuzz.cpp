// Fuzz target: chapter 14's copy-on-write under any sequence of map, fork,
// write, munmap, mprotect and exit, over up to four processes sharing frames.
//
// Input: a list of operations, one byte each plus operands:
//   op % 6 == 0  map a fresh page: process (u8), page (u8, of 16), writable (u8 & 1)
//   op % 6 == 1  fork: process (u8), frames the allocator may still hand out (u8; >= 32: no limit)
//   op % 6 == 2  write a page: process (u8), page (u8), frame limit (u8, as for fork)
//   op % 6 == 3  exit: process (u8)
//   op % 6 == 4  munmap a page: process (u8), page (u8)
//   op % 6 == 5  mprotect a page: process (u8), page (u8), writable (u8 & 1)
// Process 0 starts alive with borrowed text, like a module's program.
//
// Invariants, after every operation: each process reads back exactly what it
// (or its ancestor, before the fork) wrote, never another process's write;
// the audit holds over every live process (COW pages read-only everywhere,
// counts == leaves mapping each frame, no reference beyond the leaves); a
// refused fork or write changes no leaf, no count and no free frame; pages
// copied == writes to pages shared at the time of the write. Once every
// process has exited, every count is 0 and the allocator is where it started.
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "cow_world.h"
#include "fuzz_check.h"
#include "mm/cow_audit.h"

namespace {

constexpr unsigned kProcesses = 4;
constexpr unsigned kPages = 16;
constexpr mm::VirtAddr kText{0x400000};
constexpr mm::VirtAddr kLow{0x600000};   // pages 0-7
constexpr mm::VirtAddr kHigh{0x800000};  // pages 8-15: another page table, so a fork can run out between the two

mm::VirtAddr page_va(unsigned i) { return (i < 8 ? kLow : kHigh) + uint64_t(i % 8) * kPageSize; }

struct Page {
    uint64_t value;
    bool writable;  // in intent: data, not rodata
};

struct Slot {
    std::unique_ptr<mm::UserAddressSpace> space;
    std::map<unsigned, Page> pages;  // what this process must read
};

void set_limit(CowWorld& w, uint8_t limit) {
    if (limit < 32) w.frames.set_limit(limit);
}

void check_all(CowWorld& w, Slot* slots) {
    std::vector<mm::PhysAddr> pml4s;
    for (unsigned s = 0; s < kProcesses; ++s) {
        if (!slots[s].space) continue;
        pml4s.push_back(slots[s].space->pml4());
        for (const auto& [i, page] : slots[s].pages) {
            const mm::PageTableEntry* leaf = w.leaf(*slots[s].space, page_va(i));
            FUZZ_CHECK(leaf != nullptr);
            FUZZ_CHECK(w.read_frame(leaf->address()) == page.value);
            FUZZ_CHECK(leaf->writable() ? page.writable : true);
        }
        FUZZ_CHECK(w.leaves(*slots[s].space).size() == slots[s].pages.size() + 1);  // + the text
    }
    const mm::CowAudit audit = mm::audit_copy_on_write(w.memory, pml4s.data(), pml4s.size(), w.counts, true);
    FUZZ_CHECK(audit.ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    CowWorld w(256);
    FUZZ_CHECK(w.init_status == mm::RefCountInitStatus::kOk);
    const size_t free_at_start = w.frames.free_count();
    Slot slots[kProcesses];
    slots[0].space = std::make_unique<mm::UserAddressSpace>(w.memory, w.frames);
    FUZZ_CHECK(slots[0].space->create(w.kernel) == mm::UserMapStatus::kOk);
    const mm::PhysAddr text = w.frames.alloc_frame().frame();
    FUZZ_CHECK(map_counted_page(*slots[0].space, kText, text, mm::user_flags::kText | mm::user_flags::kBorrowed, w.counts).ok());
    uint64_t next_value = 1, copies = 0, writes_to_shared = 0;

    while (size > 0) {
        const uint8_t op = take<uint8_t>(data, size) % 6;
        Slot& slot = slots[take<uint8_t>(data, size) % kProcesses];
        if (op == 0) {
            const unsigned i = take<uint8_t>(data, size) % kPages;
            const bool writable = take<uint8_t>(data, size) & 1;
            if (!slot.space) continue;
            if (slot.pages.count(i)) {  // mapped already: refused, and the count with it
                const uint64_t references = w.counts.references();
                const mm::PageTableEntry* leaf = w.leaf(*slot.space, page_va(i));
                const mm::CountedMapResult again = map_counted_page(*slot.space, page_va(i), leaf->address(),
                                                                    mm::user_flags::kData, w.counts);
                FUZZ_CHECK(!again.ok() && w.counts.references() == references);
                continue;
            }
            const uint64_t value = next_value++;
            FUZZ_CHECK(w.map_fresh(*slot.space, page_va(i), writable ? mm::user_flags::kData : mm::user_flags::kRodata, value));
            slot.pages[i] = {value, writable};
        } else if (op == 1) {
            const uint8_t limit = take<uint8_t>(data, size);
            Slot* child = nullptr;
            for (Slot& s : slots)
                if (!s.space && child == nullptr) child = &s;
            if (!slot.space || child == nullptr) continue;
            child->space = std::make_unique<mm::UserAddressSpace>(w.memory, w.frames);
            const auto parent_before = w.leaves(*slot.space);
            const uint64_t references = w.counts.references();
            const size_t free_before = w.frames.free_count();
            set_limit(w, limit);
            mm::CloneResult clone = mm::clone_copy_on_write(*slot.space, *child->space, w.kernel, w.memory, w.counts,
                                                            w.frames, w.tlb);
            w.frames.unlimit();
            if (!clone.ok()) {
                FUZZ_CHECK(clone.status == mm::CloneStatus::kOutOfFrames);
                FUZZ_CHECK(w.leaves(*slot.space) == parent_before);
                FUZZ_CHECK(w.counts.references() == references && w.frames.free_count() == free_before);
                FUZZ_CHECK(child->space->pml4().value() == 0 && !clone.flush.pending());
                child->space.reset();
                continue;
            }
            uint64_t cow = 0;
            for (const auto& [va, raw] : w.leaves(*slot.space)) cow += (raw & mm::user_flags::kCopyOnWrite) != 0;
            w.tlb.pages.clear();
            // Every copy-on-write leaf of the parent is invalidated, or none when
            // the clone write-protected nothing (no writable translation to drop).
            const uint64_t expected = clone.flush.pages() == 0 ? 0 : cow;
            FUZZ_CHECK(clone.flush.flush() == expected && w.tlb.pages.size() == expected);
            FUZZ_CHECK(w.counts.references() == references + slot.pages.size());
            child->pages = slot.pages;
        } else if (op == 2) {
            const unsigned i = take<uint8_t>(data, size) % kPages;
            const uint8_t limit = take<uint8_t>(data, size);
            if (!slot.space || !slot.pages.count(i)) continue;
            const mm::PageTableEntry* leaf = w.leaf(*slot.space, page_va(i));
            const bool shared = w.counts.count(leaf->address()) > 1;
            const bool cow = leaf->raw() & mm::user_flags::kCopyOnWrite;
            const auto before = w.leaves(*slot.space);
            const uint64_t references = w.counts.references();
            const uint64_t value = next_value++;
            bool written = false;
            set_limit(w, limit);
            const mm::CowWriteOutcome outcome = w.write(*slot.space, page_va(i), value, &written);
            w.frames.unlimit();
            FUZZ_CHECK(written == slot.pages[i].writable || (outcome == mm::CowWriteOutcome::kOutOfFrames && !written));
            if (outcome == mm::CowWriteOutcome::kOutOfFrames) {
                FUZZ_CHECK(cow && shared && limit == 0);
                FUZZ_CHECK(w.leaves(*slot.space) == before && w.counts.references() == references);
                continue;
            }
            FUZZ_CHECK(outcome == (!cow ? mm::CowWriteOutcome::kNotCopyOnWrite
                                        : shared ? mm::CowWriteOutcome::kCopied : mm::CowWriteOutcome::kTakenOver));
            copies += outcome == mm::CowWriteOutcome::kCopied;
            writes_to_shared += written && shared;
            if (written) slot.pages[i].value = value;
        } else if (op == 4) {
            const unsigned i = take<uint8_t>(data, size) % kPages;
            if (!slot.space || !slot.pages.count(i)) continue;
            const mm::PhysAddr frame = w.leaf(*slot.space, page_va(i))->address();
            const uint32_t count = w.counts.count(frame);
            mm::UnmappedPage page;
            slot.space->unmap_page(page_va(i), w.tlb, &page).flush();
            mm::ReleasedFrames released;
            const bool last = mm::release_unmapped_counted(page, w.counts, w.frames, released);
            FUZZ_CHECK(last == (count == 1) && released.pages == last && released.refused == 0);
            FUZZ_CHECK(w.frames.in_use(frame) == !last);
            slot.pages.erase(i);
        } else if (op == 5) {
            const unsigned i = take<uint8_t>(data, size) % kPages;
            const bool writable = take<uint8_t>(data, size) & 1;
            if (!slot.space || !slot.pages.count(i)) continue;
            const uint32_t count = w.counts.count(w.leaf(*slot.space, page_va(i))->address());
            const uint64_t asked = writable ? mm::user_flags::kData : mm::user_flags::kRodata;
            slot.space->protect_page(page_va(i), mm::counted_protect_flags(asked, count), w.tlb).flush();
            const mm::PageTableEntry* leaf = w.leaf(*slot.space, page_va(i));
            FUZZ_CHECK(leaf->writable() == (writable && count == 1));
            slot.pages[i].writable = writable;
        } else {
            if (!slot.space) continue;
            const mm::CountedTeardownResult gone = mm::destroy_counted(*slot.space, w.memory, w.counts, w.frames);
            FUZZ_CHECK(gone.count_refused == 0 && gone.frames.refused == 0 && gone.frames.borrowed == 1);
            FUZZ_CHECK(gone.frames.pages + gone.still_shared == slot.pages.size());
            slot.space.reset();
            slot.pages.clear();
        }
        FUZZ_CHECK(copies == writes_to_shared);
        check_all(w, slots);
    }

    for (Slot& s : slots) {
        if (!s.space) continue;
        const mm::CountedTeardownResult gone = mm::destroy_counted(*s.space, w.memory, w.counts, w.frames);
        FUZZ_CHECK(gone.count_refused == 0 && gone.frames.refused == 0);
        s.space.reset();
    }
    FUZZ_CHECK(w.counts.references() == 0 && w.counts.frames_held() == 0);
    FUZZ_CHECK(w.frames.return_frame(text));
    FUZZ_CHECK(w.frames.return_frame(w.kernel));
    FUZZ_CHECK(w.frames.free_count() == free_at_start + 1);  // the kernel PML4 was taken after the start
    return 0;
}

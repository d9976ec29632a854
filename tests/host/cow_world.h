// A small machine for copy-on-write tests (host tests and the fuzz target):
// a fake physical memory, one allocator over it that takes frames back (the
// FrameSource and FrameSink every piece uses: one FrameSource, as in the
// kernel), reference counts over the same frames, a TLB that records every
// invalidation, and a kernel PML4 to share.
//
// Processes are built and written the way the kernel will: map_counted_page()
// for each touched page, and a write to a read-only page goes through
// resolve_cow_write() first, as the page-fault handler will send it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "fake_physical_memory.h"
#include "mm/copy_on_write.h"
#include "mm/counted_pages.h"
#include "mm/cow_write_fault.h"
#include "mm/frame_ref_counts.h"
#include "mm/user_leaves.h"

// Frames of the fake memory, handed out and taken back; `limit` frames more
// at most (for running out on purpose).
class FreeListFrames final : public mm::FrameSource, public mm::FrameSink {
public:
    explicit FreeListFrames(const FakePhysicalMemory& memory) {
        for (size_t i = memory.frame_count(); i-- > 0;) free_.push_back(memory.base() + i * kPageSize);
    }
    mm::FrameResult alloc_frame() override {
        if (free_.empty() || limit_ == 0) return mm::FrameResult::out_of_memory();
        if (limit_ != kUnlimited) --limit_;
        const mm::PhysAddr frame = free_.back();
        free_.pop_back();
        used_.insert(frame.value());
        return mm::FrameResult::success(frame);
    }
    mm::FrameResult alloc_page_table_frame() override { return alloc_frame(); }
    size_t page_table_frames_available() const override { return limit_ < free_.size() ? limit_ : free_.size(); }
    bool return_frame(mm::PhysAddr frame) override {
        if (used_.erase(frame.value()) == 0) return false;  // never handed out, or returned twice
        free_.push_back(frame);
        return true;
    }

    void set_limit(size_t frames) { limit_ = frames; }
    void unlimit() { limit_ = kUnlimited; }
    size_t free_count() const { return free_.size(); }
    bool in_use(mm::PhysAddr frame) const { return used_.count(frame.value()) != 0; }

private:
    static constexpr size_t kUnlimited = ~size_t(0);
    std::vector<mm::PhysAddr> free_;
    std::set<uint64_t> used_;
    size_t limit_ = kUnlimited;
};

// The counts' pages, each a buffer of its own (the kernel reaches them
// through the phys-offset window).
class BufferCountStorage final : public mm::RefCountStorage {
public:
    uint16_t* counts_in(mm::PhysAddr frame) override {
        auto& page = pages_[frame.value()];
        return page.data();
    }

private:
    std::map<uint64_t, std::array<uint16_t, mm::FrameRefCounts::kCountsPerPage>> pages_;
};

class RecordingTlb final : public mm::TlbInvalidator {
public:
    void invalidate_page(mm::VirtAddr page) override { pages.push_back(page.value()); }
    std::vector<uint64_t> pages;
};

struct CowWorld {
    static constexpr mm::PhysAddr kBase{0x100000};

    explicit CowWorld(size_t frame_count = 512) : memory(kBase, frame_count), frames(memory) {
        const mm::FrameRange all{kBase, kBase + frame_count * kPageSize};
        init_status = counts.init(&all, 1, frames, storage);
        kernel = kernel_half_table(memory, frames, kBase);  // every kernel slot present, as share_kernel_half leaves it
    }

    // A fresh frame whose first word is `value`, mapped and counted at `va`.
    bool map_fresh(mm::UserAddressSpace& space, mm::VirtAddr va, uint64_t flags, uint64_t value) {
        const mm::FrameResult frame = frames.alloc_frame();
        if (!frame.ok()) return false;
        write_frame(frame.frame(), value);
        if (map_counted_page(space, va, frame.frame(), flags, counts).ok()) return true;
        (void)frames.return_frame(frame.frame());
        return false;
    }

    uint64_t read_frame(mm::PhysAddr frame) { return memory.table_at(frame)->entries[0].raw(); }
    void write_frame(mm::PhysAddr frame, uint64_t value) {
        memory.table_at(frame)->entries[0] = mm::PageTableEntry::from_raw(value);
    }

    const mm::PageTableEntry* leaf(mm::UserAddressSpace& space, mm::VirtAddr va) {
        const mm::PageTableEntry* e = mm::user_leaf(memory, space.pml4(), va);
        return e != nullptr && e->present() ? e : nullptr;
    }
    uint64_t read(mm::UserAddressSpace& space, mm::VirtAddr va) { return read_frame(leaf(space, va)->address()); }

    // A user write of `value` to the page at `va`: the page-fault path first
    // when the leaf is read-only. Returns what the fault did (kNotCopyOnWrite
    // when there was no fault to take, or the fault was a real one and the
    // write did not happen).
    mm::CowWriteOutcome write(mm::UserAddressSpace& space, mm::VirtAddr va, uint64_t value, bool* written) {
        *written = false;
        const mm::PageTableEntry* e = leaf(space, va);
        if (e == nullptr) return mm::CowWriteOutcome::kNotCopyOnWrite;
        mm::CowWriteOutcome outcome = mm::CowWriteOutcome::kNotCopyOnWrite;
        if (!e->writable()) {
            mm::CowWriteResult fault = mm::resolve_cow_write(space, va, memory, counts, frames, tlb);
            outcome = fault.outcome();
            if (fault.leaf_changed()) fault.take_flush().flush();
            e = leaf(space, va);
            if (!e->writable()) return outcome;
        }
        write_frame(e->address(), value);
        *written = true;
        return outcome;
    }

    // Every leaf of `space`: va -> raw entry.
    std::map<uint64_t, uint64_t> leaves(mm::UserAddressSpace& space) {
        std::map<uint64_t, uint64_t> out;
        (void)mm::for_each_user_leaf(memory, space.pml4(), [&](mm::VirtAddr va, mm::PageTableEntry& e) {
            out[va.value()] = e.raw();
            return true;
        });
        return out;
    }

    FakePhysicalMemory memory;
    FreeListFrames frames;
    BufferCountStorage storage;
    mm::FrameRefCounts counts;
    mm::RefCountInitStatus init_status;
    RecordingTlb tlb;
    mm::PhysAddr kernel;
};

// Physical memory and a frame source for page-table tests: a buffer of 4 KiB
// frames that the tables believe starts at physical address `base`.
//
// The buffer starts full of garbage, as RAM does, so a table that is not
// zeroed before use shows up as stray entries; an address outside the buffer
// aborts the test instead of touching host memory.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "mm/frame_source.h"
#include "mm/physical_memory.h"

class FakePhysicalMemory final : public mm::PhysicalMemoryAccess {
public:
    static constexpr unsigned char kGarbage = 0xA5;

    FakePhysicalMemory(mm::PhysAddr base, size_t frame_count)
        : base_(base), frame_count_(frame_count), frames_(new mm::PageTable[frame_count]) {
        std::memset(static_cast<void*>(frames_.get()), kGarbage, bytes());
    }

    mm::PageTable* table_at(mm::PhysAddr frame) override {
        if (!contains(frame) || !frame.is_aligned(kPageSize)) {
            std::fprintf(stderr, "table_at(0x%llx): not a frame of the fake memory\n",
                         static_cast<unsigned long long>(frame.value()));
            std::abort();
        }
        return &frames_[(frame - base_) / kPageSize];
    }

    bool contains(mm::PhysAddr address) const { return address >= base_ && address - base_ < bytes(); }
    mm::PhysAddr base() const { return base_; }
    size_t frame_count() const { return frame_count_; }

    // The whole of "RAM", to show that a refused mapping wrote nothing.
    std::vector<unsigned char> snapshot() const {
        const auto* first = reinterpret_cast<const unsigned char*>(frames_.get());
        return std::vector<unsigned char>(first, first + bytes());
    }

private:
    size_t bytes() const { return frame_count_ * kPageSize; }

    mm::PhysAddr base_;
    size_t frame_count_;
    std::unique_ptr<mm::PageTable[]> frames_;
};

// Hands out the frames of a FakePhysicalMemory in ascending order, with an
// optional budget of page-table frames to provoke running out.
class FakeFrameSource final : public mm::FrameSource {
public:
    explicit FakeFrameSource(const FakePhysicalMemory& memory) : memory_(memory) {}

    mm::FrameResult alloc_frame() override { return take(); }
    mm::FrameResult alloc_page_table_frame() override {
        if (page_table_frames_available() == 0) return mm::FrameResult::out_of_memory();
        if (budget_ != kUnlimited) --budget_;
        return take();
    }
    size_t page_table_frames_available() const override {
        const size_t left = memory_.frame_count() - handed_out_.size();
        return budget_ < left ? budget_ : left;
    }

    void set_page_table_budget(size_t frames) { budget_ = frames; }
    const std::vector<mm::PhysAddr>& handed_out() const { return handed_out_; }

private:
    static constexpr size_t kUnlimited = ~size_t(0);

    mm::FrameResult take() {
        if (handed_out_.size() == memory_.frame_count()) return mm::FrameResult::out_of_memory();
        const mm::PhysAddr frame = memory_.base() + handed_out_.size() * kPageSize;
        handed_out_.push_back(frame);
        return mm::FrameResult::success(frame);
    }

    const FakePhysicalMemory& memory_;
    std::vector<mm::PhysAddr> handed_out_;
    size_t budget_ = kUnlimited;
};

// A kernel's top-level table as share_kernel_half leaves it: every upper
// entry (256-511) present, each naming `target` (a table the caller never
// walks), the lower half empty. `level` is the PML4, or the PML5 at five
// levels. For the user address spaces the host tests and benchmarks build.
inline mm::PhysAddr kernel_half_table(FakePhysicalMemory& memory, mm::FrameSource& frames, mm::PhysAddr target,
                                      mm::PageTableLevel level = mm::PageTableLevel::kPml4) {
    const mm::PhysAddr top = frames.alloc_frame().frame();
    mm::PageTable& t = *memory.table_at(top);
    for (auto& e : t.entries) e.clear();
    for (unsigned slot = 256; slot < 512; ++slot)
        t.entries[slot].set(level, target, x86::pte::kPresent | x86::pte::kWritable);
    return top;
}

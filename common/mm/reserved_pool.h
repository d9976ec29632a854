// ReservedPool: a few frames set aside, so that one kind of allocation can
// still succeed when general memory has run out.
//
// BootFrameAllocator keeps one for page tables: a mapping that needs a new
// table after alloc_frame() has run dry still completes, and chapter 11 uses
// the same reserve while it hands over to the steady-state allocator.
// Fixed capacity, no allocation of its own: it must work before anything else does.
#pragma once

#include <stddef.h>

#include "mm/frame_source.h"
#include "mm/phys_addr.h"
#include "support/assert.h"

namespace mm {

template <size_t Capacity>
class ReservedPool {
public:
    static_assert(Capacity > 0);

// book:begin push-pop
    // False (and the frame is not taken) when the pool is already full.
    [[nodiscard]] bool push(PhysAddr frame) {
        KASSERT(frame.is_aligned(kPageSize));
        if (is_full()) return false;
        frames_[len_++] = frame;
        return true;
    }

    FrameResult pop() {
        if (is_empty()) return FrameResult::out_of_memory();
        return FrameResult::success(frames_[--len_]);
    }
// book:end push-pop

    bool is_full() const { return len_ == Capacity; }
    bool is_empty() const { return len_ == 0; }
    size_t len() const { return len_; }
    static constexpr size_t capacity() { return Capacity; }

    bool contains(PhysAddr frame) const {
        for (size_t i = 0; i < len_; ++i)
            if (frames_[i] == frame) return true;
        return false;
    }

private:
    PhysAddr frames_[Capacity];
    size_t len_ = 0;
};

}  // namespace mm

// FrameSource: where page frames come from, early and in steady state.
//
// Introduced in chapter 03 with BootFrameAllocator; chapter 04's
// PageTableBuilder asks a FrameSource for every table it creates, and chapter
// 11 swaps in the steady-state allocator behind the same interface, so the
// mapping code never learns which allocator is running.
#pragma once

#include <stddef.h>

#include "mm/phys_addr.h"
#include "support/assert.h"

namespace mm {

// The result of an allocation. Out-of-memory is a value the caller must look
// at, never a null frame that gets used by accident: frame() asserts ok().
class [[nodiscard]] FrameResult {
public:
    static constexpr FrameResult success(PhysAddr frame) { return FrameResult(frame, true); }
    static constexpr FrameResult out_of_memory() { return FrameResult(PhysAddr(), false); }

    constexpr bool ok() const { return ok_; }
    PhysAddr frame() const {
        KASSERT(ok_);
        return frame_;
    }

private:
    constexpr FrameResult(PhysAddr frame, bool ok) : frame_(frame), ok_(ok) {}
    PhysAddr frame_;
    bool ok_;
};

// book:begin frame-source
class FrameSource {
public:
    // One 4 KiB frame for any use. Contents are unspecified: the caller
    // initialises it (a page-table frame is zeroed before it is installed).
    virtual FrameResult alloc_frame() = 0;

    // One 4 KiB frame for a page table. Served from a reserve first, so that
    // mapping keeps working after alloc_frame() has run dry.
    virtual FrameResult alloc_page_table_frame() = 0;

    // How many page-table frames alloc_page_table_frame() can still hand out.
    // Lets a mapping check up front that it will not fail half-way.
    virtual size_t page_table_frames_available() const = 0;

protected:
    ~FrameSource() = default;  // never deleted through this interface
};
// book:end frame-source

}  // namespace mm

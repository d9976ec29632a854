// FrameRefCounts: how many page-table entries map each frame (chapter 14).
//
// Once fork shares a frame between address spaces, "give the frame back when
// the process exits" is wrong: the other process still maps it. So every
// frame a process owns carries a count of the leaves that map it, and a frame
// goes back to the allocator only when its last leaf goes (release() says
// "last"). Borrowed frames (user_flags::kBorrowed: a module's text) are never
// counted: no process owns them.
//
// The counts live beside the frame allocator, numbered the way its bitmap
// numbers frames: the same sorted regions of usable RAM, one index per frame,
// region after region (BitmapFrameAllocator::Region::first_bit). One count is
// 16 bits, so a 4 KiB page of counts covers 2048 frames (8 MiB of RAM): about
// 0.05 % of memory. Those pages are frames from the one FrameSource, taken at
// init(), and reached through RefCountStorage (the phys-offset window in the
// kernel, a buffer in the host tests) — no second allocator, no static table
// sized for the largest machine.
//
// A count of 0 means "no mapping": claim() takes a frame from 0 to 1 (a fresh
// frame just mapped), share() adds a mapping to a frame that has one, release()
// removes one. Each refuses by name what would break the count: a frame it does
// not cover, a count that would pass 65535 (saturated: refuse the fork rather
// than wrap to 0 and free a frame still mapped), releasing or sharing a frame
// nobody holds, claiming one somebody does.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/bitmap_frame_allocator.h"
#include "mm/frame_source.h"
#include "mm/phys_addr.h"

namespace mm {

// How the counts reach the frames they live in.
class RefCountStorage {
public:
    // The 4 KiB frame at `frame`, as 2048 writable counts.
    virtual uint16_t* counts_in(PhysAddr frame) = 0;

protected:
    ~RefCountStorage() = default;
};

// One run of frames the counts cover: [start, end), page-aligned.
struct FrameRange {
    PhysAddr start;
    PhysAddr end;
};

enum class [[nodiscard]] RefCountStatus : uint8_t {
    kOk,
    kMisaligned,      // not the start of a 4 KiB frame
    kNotCovered,      // not a frame of the ranges the counts cover
    kSaturated,       // share() at the largest count
    kNotHeld,         // share() or release() of a frame whose count is 0
    kAlreadyHeld,     // claim() of a frame whose count is not 0
};
const char* describe(RefCountStatus status);  // the rule, for rule=
const char* name(RefCountStatus status);      // a short name, for reason=

// What init() found. Anything but kOk leaves the counts unusable (covers nothing).
enum class [[nodiscard]] RefCountInitStatus : uint8_t {
    kOk,
    kTooManyRanges,   // more ranges than the allocator has regions
    kBadRange,        // a range empty, misaligned, unsorted or overlapping the one before
    kTooManyFrames,   // more frames than the directory of count pages covers
    kOutOfFrames,     // the FrameSource ran out before every count page was taken
};
const char* describe(RefCountInitStatus status);

// A count after share() or release(), or why it was refused (count unchanged).
struct [[nodiscard]] RefCountResult {
    RefCountStatus status = RefCountStatus::kOk;
    uint32_t count = 0;
    bool ok() const { return status == RefCountStatus::kOk; }
    bool last() const { return ok() && count == 0; }  // release(): the frame is free to go back
};

class FrameRefCounts {
public:
    using Count = uint16_t;
    static constexpr uint32_t kMaxCount = 0xFFFF;
    static constexpr uint64_t kCountsPerPage = kPageSize / sizeof(Count);
    static constexpr size_t kMaxRanges = BitmapFrameAllocator::kMaxRegions;
    static constexpr size_t kMaxCountPages = 2048;  // 2048 x 8 MiB: RAM up to 16 GiB
    static constexpr uint64_t kMaxFrames = kMaxCountPages * kCountsPerPage;

    // Covers `ranges` (sorted, disjoint: the allocator's regions, in order),
    // every count 0. Takes one frame per 2048 covered frames from `frames`;
    // on kOutOfFrames they stay taken (the kernel stops the boot).
    RefCountInitStatus init(const FrameRange* ranges, size_t count, FrameSource& frames, RefCountStorage& storage);
    // The kernel's form: covers exactly the frames `allocator` manages, in
    // its bitmap's order, and takes the count pages from it.
    RefCountInitStatus init_beside(BitmapFrameAllocator& allocator, RefCountStorage& storage);

    RefCountResult claim(PhysAddr frame);    // 0 -> 1: a fresh frame, mapped once
    RefCountResult share(PhysAddr frame);    // n -> n+1, n >= 1: one more leaf maps it
    RefCountResult release(PhysAddr frame);  // n -> n-1, n >= 1; last() at 0
    uint32_t count(PhysAddr frame) const;    // 0 for a frame it does not cover

    bool covers(PhysAddr frame) const { return frame.is_aligned(kPageSize) && find(frame) != nullptr; }
    uint64_t frames_covered() const { return frames_; }
    uint64_t count_pages() const { return count_pages_; }
    // The sum of every count: the number of leaves the counts know of.
    uint64_t references() const { return references_; }
    // Frames whose count is not 0.
    uint64_t frames_held() const { return held_; }

private:
    struct Range {
        PhysAddr start;
        PhysAddr end;
        uint64_t first_index;
    };
    const Range* find(PhysAddr frame) const;
    // The count of `frame`, which must be covered.
    Count& slot(PhysAddr frame) const;
    RefCountStatus check(PhysAddr frame) const;

    Range ranges_[kMaxRanges];
    size_t range_count_ = 0;
    uint64_t frames_ = 0;
    PhysAddr pages_[kMaxCountPages];
    uint64_t count_pages_ = 0;
    RefCountStorage* storage_ = nullptr;
    uint64_t references_ = 0;
    uint64_t held_ = 0;
};

}  // namespace mm

// HeapAllocator: the kernel heap's bookkeeping (chapter 11), behind
// operator new and delete.
//
// A first-fit free list with headers and canaries, chosen because every step
// can be followed with pencil and paper: the heap is one run of blocks from
// its start to the end of what is mapped, each block a 32-byte header and
// its payload, and the free blocks are also linked in address order. An
// allocation takes the first free block large enough (cut to fit, the rest
// stays free); a free puts the block back in address order and merges it
// with a free neighbour on either side, so free space does not crumble.
// Slower than size classes for many small objects — a free walks the list —
// and that is the trade: nothing here needs a second data structure.
//
// Mistakes are caught, not trusted: each header's tag says "used" or "free"
// and is mixed with the header's own address (a copied or stray header does
// not pass), and eight canary bytes follow every payload. free() reports a
// double free, a pointer the heap never returned and an overrun by name.
//
// The heap owns a range of virtual addresses and maps it as it grows, through
// a HeapBackend: in the kernel, fresh frames mapped by PageTableBuilder
// (common/mm/kernel/kernel_heap.cpp); in host tests, a buffer.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "support/units.h"

namespace mm {

class HeapBackend {
public:
    // Makes [at, at + bytes) (page-aligned) readable and writable memory;
    // false when it cannot (no frames, or no page-table frames).
    virtual bool grow(uint64_t at, uint64_t bytes) = 0;

protected:
    ~HeapBackend() = default;
};

enum class HeapFreeStatus : uint8_t {
    kOk,
    kOutsideHeap,   // not a pointer into the heap's blocks
    kMisaligned,    // inside the heap, but no payload starts there
    kDoubleFree,    // the block is free already
    kBadHeader,     // no block header in front of it: never returned by allocate(), or overwritten
    kOverrun,       // the canary after the payload changed: someone wrote past the end
};
const char* describe(HeapFreeStatus status);  // the rule, for rule=
const char* name(HeapFreeStatus status);      // a short name, for reason=

struct HeapStats {
    uint64_t committed = 0;    // bytes mapped for the heap
    uint64_t used = 0;         // bytes in allocated blocks, headers and canaries included
    uint64_t live = 0;         // allocations not freed yet
    uint64_t free_blocks = 0;  // length of the free list (counted when asked)
    uint64_t allocations = 0;  // successful allocate() calls, ever
    uint64_t frees = 0;        // successful free() calls, ever
    uint64_t grows = 0;        // times the heap asked its backend for more
    uint64_t failures = 0;     // allocate() calls that returned nullptr
};

// What a walk over every block found (check()).
struct [[nodiscard]] HeapCheck {
    bool ok = true;
    const char* what = "";   // the first problem
    uint64_t where = 0;      // its block's address
    uint64_t blocks = 0, used_blocks = 0, free_blocks = 0;
    uint64_t used_bytes = 0, free_bytes = 0;
};

class HeapAllocator {
public:
    static constexpr uint64_t kAlignment = 16;        // of every payload
    static constexpr uint64_t kMaxAlignment = 64 * KiB;
    static constexpr uint64_t kHeaderSize = 32;
    static constexpr uint64_t kCanarySize = 8;
    static constexpr uint64_t kMinBlock = kHeaderSize + kAlignment;  // a header and the smallest payload
    static constexpr uint64_t kGrowStep = 64 * KiB;  // the least the heap grows by

    // [start, start + capacity): the heap's virtual range, page-aligned, all
    // unmapped; nothing is mapped until the first allocation needs it.
    void init(uint64_t start, uint64_t capacity, HeapBackend& backend);

    // `size` bytes at a multiple of `alignment` (a power of two, at least
    // kAlignment is used, at most kMaxAlignment), or nullptr when the heap
    // cannot grow any more or the request is impossible; failures are counted.
    // The caller reports it: operator new panics with the size.
    void* allocate(uint64_t size, uint64_t alignment = kAlignment);
    HeapFreeStatus free(void* payload);

    // The size allocate() was asked for at `payload`, when `payload` is a live
    // allocation (false otherwise): a sized delete checks it.
    bool requested_size(const void* payload, uint64_t* size) const;

    // Maps at least `bytes` more at the end (kGrowStep at least, whole
    // pages), as one free block; false when the range or the backend is out.
    // allocate() calls it when nothing fits; the kernel also primes the heap.
    bool grow(uint64_t bytes);

    HeapStats stats() const;
    HeapCheck check() const;
    uint64_t start() const { return start_; }
    uint64_t mapped_end() const { return end_; }

private:
    struct Block;
    void insert_free(Block* block);
    static uint64_t block_size_for(uint64_t size);

    uint64_t start_ = 0;
    uint64_t end_ = 0;    // end of the mapped part: blocks cover [start_, end_)
    uint64_t limit_ = 0;  // start_ + capacity
    HeapBackend* backend_ = nullptr;
    Block* free_list_ = nullptr;
    HeapStats stats_;
};

}  // namespace mm

#include "mm/heap_allocator.h"

#include "support/assert.h"

namespace mm {

// book:begin block
// Every block starts with this header, at a 16-byte boundary; the payload
// follows it. The tag is kUsedTag or kFreeTag XORed with the header's address.
struct HeapAllocator::Block {
    uint64_t tag;
    uint64_t size;       // the whole block, header included: a multiple of 16
    uint64_t requested;  // used: the bytes asked for; the canary follows them
    Block* next;         // free: the next free block, in address order

    uint64_t address() const { return reinterpret_cast<uint64_t>(this); }
    uint64_t end() const { return address() + size; }
    uint64_t payload() const { return address() + kHeaderSize; }
};
static_assert(sizeof(uint64_t) * 3 + sizeof(void*) == HeapAllocator::kHeaderSize);
// book:end block

namespace {

constexpr uint64_t kUsedTag = 0x5553'4544'424c'4f4bull;  // "USEDBLOK"
constexpr uint64_t kFreeTag = 0x4652'4545'424c'4f4bull;  // "FREEBLOK"
constexpr uint64_t kCanary = 0xCA4A'41E5'CA4A'41E5ull;

uint64_t used_tag(uint64_t address) { return kUsedTag ^ address; }
uint64_t free_tag(uint64_t address) { return kFreeTag ^ address; }
uint64_t canary_for(uint64_t address) { return kCanary ^ address; }

// The canary may sit at any byte: copy it, never dereference it misaligned.
void write_canary(uint64_t at) {
    const uint64_t value = canary_for(at);
    __builtin_memcpy(reinterpret_cast<void*>(at), &value, sizeof(value));
}
bool canary_intact(uint64_t at) {
    uint64_t value;
    __builtin_memcpy(&value, reinterpret_cast<const void*>(at), sizeof(value));
    return value == canary_for(at);
}

uint64_t round_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

}  // namespace

const char* describe(HeapFreeStatus status) {
    switch (status) {
        case HeapFreeStatus::kOk: return "ok";
        case HeapFreeStatus::kOutsideHeap: return "only a pointer into the heap can be freed";
        case HeapFreeStatus::kMisaligned: return "a payload starts at a 16-byte boundary";
        case HeapFreeStatus::kDoubleFree: return "a block must be in use to be freed";
        case HeapFreeStatus::kBadHeader: return "a freed pointer must be one allocate() returned";
        case HeapFreeStatus::kOverrun: return "nothing may write past the end of an allocation";
    }
    return "unknown";
}

const char* name(HeapFreeStatus status) {
    switch (status) {
        case HeapFreeStatus::kOk: return "ok";
        case HeapFreeStatus::kOutsideHeap: return "outside-heap";
        case HeapFreeStatus::kMisaligned: return "misaligned";
        case HeapFreeStatus::kDoubleFree: return "double-free";
        case HeapFreeStatus::kBadHeader: return "bad-header";
        case HeapFreeStatus::kOverrun: return "overrun";
    }
    return "unknown";
}

void HeapAllocator::init(uint64_t start, uint64_t capacity, HeapBackend& backend) {
    KASSERT(is_aligned(start, kPageSize) && is_aligned(capacity, kPageSize) && capacity > 0);
    start_ = end_ = start;
    limit_ = start + capacity;
    backend_ = &backend;
    free_list_ = nullptr;
    stats_ = {};
}

uint64_t HeapAllocator::block_size_for(uint64_t size) {
    const uint64_t bytes = round_up(kHeaderSize + size + kCanarySize, kAlignment);
    return bytes < kMinBlock ? kMinBlock : bytes;
}

// book:begin allocate
void* HeapAllocator::allocate(uint64_t size, uint64_t alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > kMaxAlignment || size > limit_ - start_) {
        ++stats_.failures;
        return nullptr;
    }
    if (alignment < kAlignment) alignment = kAlignment;
    // A zero-byte request still gets a block of its own (kMinBlock), so
    // every allocation is a distinct address.
    const uint64_t need = block_size_for(size);
    for (int attempt = 0; attempt < 2; ++attempt) {
        // First fit: the first free block in which an aligned payload fits.
        for (Block *prev = nullptr, *b = free_list_; b != nullptr; prev = b, b = b->next) {
            uint64_t at = round_up(b->payload(), alignment) - kHeaderSize;
            // A gap in front must be able to stay behind as a free block.
            if (at != b->address() && at - b->address() < kMinBlock)
                at = round_up(b->address() + kMinBlock + kHeaderSize, alignment) - kHeaderSize;
            if (at + need > b->end()) continue;
            if (at != b->address()) {  // keep the gap in front as a smaller free block
                Block* rest = reinterpret_cast<Block*>(at);
                *rest = {free_tag(at), b->end() - at, 0, b->next};
                b->size = at - b->address();
                b->next = rest;
                prev = b;
                b = rest;
            }
            if (b->size - need >= kMinBlock) {  // cut off the tail as a free block
                Block* tail = reinterpret_cast<Block*>(b->address() + need);
                *tail = {free_tag(tail->address()), b->size - need, 0, b->next};
                b->size = need;
                b->next = tail;
            }
            (prev ? prev->next : free_list_) = b->next;
            *b = {used_tag(b->address()), b->size, size, nullptr};
            write_canary(b->payload() + size);
            ++stats_.allocations;
            ++stats_.live;
            stats_.used += b->size;
            return reinterpret_cast<void*>(b->payload());
        }
        // Nothing fits: map more at the end and look again, once.
        if (attempt == 0 && !grow(need + alignment + kMinBlock)) break;
    }
    ++stats_.failures;
    return nullptr;
}
// book:end allocate

// book:begin grow
bool HeapAllocator::grow(uint64_t at_least) {
    const uint64_t bytes = round_up(at_least < kGrowStep ? kGrowStep : at_least, kPageSize);
    if (bytes > limit_ - end_) return false;            // the heap's address range is used up
    if (!backend_->grow(end_, bytes)) return false;     // no memory behind it
    Block* block = reinterpret_cast<Block*>(end_);
    *block = {free_tag(end_), bytes, 0, nullptr};
    end_ += bytes;
    stats_.committed += bytes;
    ++stats_.grows;
    insert_free(block);  // merges with a free block that ended where this begins
    return true;
}
// book:end grow

// book:begin free
HeapFreeStatus HeapAllocator::free(void* payload) {
    const uint64_t p = reinterpret_cast<uint64_t>(payload);
    if (p < start_ + kHeaderSize || p >= end_) return HeapFreeStatus::kOutsideHeap;
    if (!is_aligned(p, kAlignment)) return HeapFreeStatus::kMisaligned;
    Block* b = reinterpret_cast<Block*>(p - kHeaderSize);
    if (b->tag == free_tag(b->address())) return HeapFreeStatus::kDoubleFree;
    if (b->tag != used_tag(b->address()) || b->size < kMinBlock || b->size > end_ - b->address() ||
        b->requested > b->size - kHeaderSize - kCanarySize)
        return HeapFreeStatus::kBadHeader;
    if (!canary_intact(p + b->requested)) return HeapFreeStatus::kOverrun;
    stats_.used -= b->size;
    --stats_.live;
    ++stats_.frees;
    insert_free(b);
    return HeapFreeStatus::kOk;
}
// book:end free

bool HeapAllocator::requested_size(const void* payload, uint64_t* size) const {
    const uint64_t p = reinterpret_cast<uint64_t>(payload);
    if (p < start_ + kHeaderSize || p >= end_ || !is_aligned(p, kAlignment)) return false;
    const Block* b = reinterpret_cast<const Block*>(p - kHeaderSize);
    if (b->tag != used_tag(b->address())) return false;
    *size = b->requested;
    return true;
}

// Into the free list in address order, merged with the free block just before
// and just after it when they touch. The block's own header keeps its free
// tag even when merged away, so a second free of it is still recognised.
// lab:begin insert-free
void HeapAllocator::insert_free(Block* block) {
    block->tag = free_tag(block->address());
    Block* prev = nullptr;
    Block* next = free_list_;
    while (next != nullptr && next->address() < block->address()) {
        prev = next;
        next = next->next;
    }
    if (prev != nullptr && prev->end() == block->address()) {
        prev->size += block->size;
        block = prev;
    } else {
        block->next = next;
        (prev ? prev->next : free_list_) = block;
    }
    if (next != nullptr && block->end() == next->address()) {
        block->size += next->size;
        block->next = next->next;
    }
}
// lab:end insert-free

HeapStats HeapAllocator::stats() const {
    HeapStats s = stats_;
    for (const Block* b = free_list_; b != nullptr; b = b->next) ++s.free_blocks;
    return s;
}

// book:begin check
HeapCheck HeapAllocator::check() const {
    HeapCheck c;
    auto fail = [&](const char* what, uint64_t where) {
        if (c.ok) c = {false, what, where, c.blocks, c.used_blocks, c.free_blocks, c.used_bytes, c.free_bytes};
    };
    const Block* next_free = free_list_;
    bool previous_free = false;
    for (uint64_t at = start_; at < end_ && c.ok;) {
        const Block* b = reinterpret_cast<const Block*>(at);
        if (b->size < kMinBlock || b->size % kAlignment != 0 || b->size > end_ - at) {
            fail("block size", at);
            break;
        }
        ++c.blocks;
        if (b->tag == used_tag(at)) {
            ++c.used_blocks;
            c.used_bytes += b->size;
            if (b->requested > b->size - kHeaderSize - kCanarySize) fail("requested size", at);
            else if (!canary_intact(b->payload() + b->requested)) fail("canary", at);
            previous_free = false;
        } else if (b->tag == free_tag(at)) {
            ++c.free_blocks;
            c.free_bytes += b->size;
            if (b != next_free) fail("free block not in the free list", at);
            else if (previous_free) fail("two free blocks side by side", at);
            else next_free = b->next;
            previous_free = true;
        } else {
            fail("tag", at);
        }
        at += b->size;
    }
    if (c.ok && next_free != nullptr) fail("free list beyond the blocks", next_free->address());
    if (c.ok && (c.used_bytes != stats_.used || c.used_blocks != stats_.live || c.free_blocks != stats().free_blocks ||
                 c.used_bytes + c.free_bytes != end_ - start_))
        fail("statistics", start_);
    return c;
}
// book:end check

}  // namespace mm

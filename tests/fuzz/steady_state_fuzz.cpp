// Fuzz target: chapter 11's allocators under any sequence of operations.
//
// Input: a list of operations, one byte each plus operands:
//   op % 6 == 0  heap allocate: size (u16), alignment shift (u8, 16 << shift % 13)
//   op % 6 == 1  heap free of live slot (u8), then the same pointer again
//   op % 6 == 2  heap free of a pointer inside a live payload (u8 slot, u8 offset)
//   op % 6 == 3  frame allocate
//   op % 6 == 4  frame free of live slot (u8), then the same frame again
//   op % 6 == 5  frame free of an address (u32 page number)
// Invariants: every allocation is aligned and keeps its contents until freed;
// a good free succeeds, a repeated or interior one never does; check() holds
// after every operation; once everything is freed the heap is one free block
// and the frame counters are where they started.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "mm/bitmap_frame_allocator.h"
#include "fuzz_check.h"
#include "mm/heap_allocator.h"

namespace {

constexpr uint64_t kHeapBytes = 2 * MiB;

class BufferBackend final : public mm::HeapBackend {
public:
    BufferBackend() : buffer_(new uint8_t[kHeapBytes + kPageSize]) {
        start = (reinterpret_cast<uint64_t>(buffer_.get()) + kPageSize - 1) & ~(kPageSize - 1);
    }
    bool grow(uint64_t at, uint64_t bytes) override {
        FUZZ_CHECK(at == start + committed && bytes % kPageSize == 0);
        if (committed + bytes > kHeapBytes) return false;
        committed += bytes;
        return true;
    }
    uint64_t start = 0, committed = 0;

private:
    std::unique_ptr<uint8_t[]> buffer_;
};

class VectorStorage final : public mm::BitmapStorage {
public:
    uint64_t* words_at(mm::PhysAddr, uint64_t frames) override {
        words.assign(frames * kPageSize / 8, ~uint64_t(0));
        return words.data();
    }
    std::vector<uint64_t> words;
};

struct Live {
    uint8_t* p;
    uint16_t size;
    uint8_t seed;
};

uint8_t byte_at(const Live& l, size_t i) { return uint8_t(l.seed + i * 13); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    BufferBackend backend;
    mm::HeapAllocator heap;
    heap.init(backend.start, kHeapBytes, backend);
    std::vector<Live> live;

    const mm::MemoryRange ranges[] = {
        {mm::PhysAddr(0x100000), mm::PhysAddr(0x180000), mm::RangeKind::kUsable},
        {mm::PhysAddr(0x200000), mm::PhysAddr(0x280000), mm::RangeKind::kUsable},
    };
    mm::BootFrameAllocator boot;
    boot.init(ranges, 2);
    for (int i = 0; i < 5; ++i) (void)boot.alloc_frame();
    mm::BitmapFrameAllocator frames;
    VectorStorage storage;
    FUZZ_CHECK(frames.take_over(boot, storage).ok);
    const mm::FrameStats start = frames.stats();
    std::vector<mm::PhysAddr> held;

    for (int ops = 0; size > 0 && ops < 2000; ++ops) {
        const uint8_t op = take<uint8_t>(data, size);
        switch (op % 6) {
            case 0: {
                const uint16_t n = take<uint16_t>(data, size);
                const uint64_t align = uint64_t(16) << (take<uint8_t>(data, size) % 13);
                auto* p = static_cast<uint8_t*>(heap.allocate(n, align));
                if (p == nullptr) break;  // the buffer is full: a result, not a crash
                FUZZ_CHECK(reinterpret_cast<uint64_t>(p) % align == 0);
                FUZZ_CHECK(reinterpret_cast<uint64_t>(p) >= backend.start &&
                           reinterpret_cast<uint64_t>(p) + n <= backend.start + backend.committed);
                Live l{p, n, uint8_t(ops)};
                for (size_t i = 0; i < n; ++i) p[i] = byte_at(l, i);
                live.push_back(l);
                break;
            }
            case 1: {
                const uint8_t i = take<uint8_t>(data, size);
                if (live.empty()) break;
                Live l = live[i % live.size()];
                for (size_t k = 0; k < l.size; ++k) FUZZ_CHECK(l.p[k] == byte_at(l, k));
                FUZZ_CHECK(heap.free(l.p) == mm::HeapFreeStatus::kOk);
                FUZZ_CHECK(heap.free(l.p) == mm::HeapFreeStatus::kDoubleFree);
                live[i % live.size()] = live.back();
                live.pop_back();
                break;
            }
            case 2: {
                const uint8_t i = take<uint8_t>(data, size);
                const uint8_t offset = take<uint8_t>(data, size);
                if (live.empty() || offset == 0) break;
                const Live& l = live[i % live.size()];
                if (offset >= l.size) break;
                FUZZ_CHECK(heap.free(l.p + offset) != mm::HeapFreeStatus::kOk);
                break;
            }
            case 3: {
                const mm::FrameResult r = frames.alloc_frame();
                if (r.ok()) {
                    FUZZ_CHECK(frames.is_used(r.frame()));
                    held.push_back(r.frame());
                }
                break;
            }
            case 4: {
                const uint8_t i = take<uint8_t>(data, size);
                if (held.empty()) break;
                const mm::PhysAddr f = held[i % held.size()];
                FUZZ_CHECK(frames.free(f) == mm::FrameFreeStatus::kOk);
                FUZZ_CHECK(frames.free(f) == mm::FrameFreeStatus::kDoubleFree);
                held[i % held.size()] = held.back();
                held.pop_back();
                break;
            }
            case 5: {
                const mm::PhysAddr f(uint64_t(take<uint32_t>(data, size)) * kPageSize / 7);
                const mm::FrameFreeStatus s = frames.free(f);
                bool mine = false;
                for (mm::PhysAddr h : held) mine |= h == f;
                if (s == mm::FrameFreeStatus::kOk) {
                    // Only a frame in use can be freed: one of ours, or one the
                    // boot allocator or the reserve held. Put ours back in order.
                    if (mine) {
                        for (size_t k = 0; k < held.size(); ++k)
                            if (held[k] == f) { held[k] = held.back(); held.pop_back(); break; }
                    } else {
                        FUZZ_CHECK(frames.manages(f));
                        (void)frames.alloc_frame();  // not ours: keep the balance by taking one back
                    }
                } else {
                    FUZZ_CHECK(!mine);
                }
                break;
            }
        }
        const mm::HeapCheck c = heap.check();
        FUZZ_CHECK(c.ok);
        FUZZ_CHECK(c.used_blocks == live.size());
        const mm::FrameStats s = frames.stats();
        FUZZ_CHECK(s.used + s.free == s.total);
    }
    for (const Live& l : live) {
        for (size_t k = 0; k < l.size; ++k) FUZZ_CHECK(l.p[k] == byte_at(l, k));
        FUZZ_CHECK(heap.free(l.p) == mm::HeapFreeStatus::kOk);
    }
    const mm::HeapCheck c = heap.check();
    FUZZ_CHECK(c.ok && c.used_blocks == 0 && c.blocks == (backend.committed ? 1u : 0u));
    for (mm::PhysAddr f : held) FUZZ_CHECK(frames.free(f) == mm::FrameFreeStatus::kOk);
    FUZZ_CHECK(frames.stats().used == start.used);
    return 0;
}

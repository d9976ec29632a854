#include "heap_stress.h"

#include <new>

#include "mm/kernel/frame_handover.h"
#include "mm/kernel/kernel_heap.h"
#include "kernel/panic.h"
#include "mm/phys_window.h"
#include "support/log.h"

namespace {

[[noreturn]] void fail(const char* subsystem, const char* what, uint64_t where) {
    klog::error(subsystem).msg("stress failed").kv("what", what).kv("at", klog::hex(where));
    kernel::fail();
}

// A small deterministic generator (xorshift64): the same boot, the same test.
struct Random {
    uint64_t state = 0x9E37'79B9'7F4A'7C15ull;
    uint64_t next() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    }
    uint64_t below(uint64_t n) { return next() % n; }
};

// ---- frames -----------------------------------------------------------------

constexpr size_t kStressFrames = 2048;
constexpr int kFrameRounds = 2;
mm::PhysAddr g_frames[kStressFrames];

void stress_frames(mm::BitmapFrameAllocator& frames, Random& random) {
    const mm::FrameStats before = frames.stats();
    uint64_t checks = 0;
    for (int round = 0; round < kFrameRounds; ++round) {
        for (size_t i = 0; i < kStressFrames; ++i) {
            const mm::FrameResult r = frames.alloc_frame();
            if (!r.ok()) fail("frames", "out of frames", i);
            g_frames[i] = r.frame();
            if (!frames.is_used(r.frame())) fail("frames", "allocated frame not marked used", r.frame().value());
            // First and last word of the frame, stamped with its own address.
            uint64_t* words = mm::phys_to_pointer<uint64_t>(r.frame());
            words[0] = r.frame().value() ^ round;
            words[511] = ~r.frame().value();
        }
        // Shuffle, then check every stamp and free in that order: a frame
        // handed out twice would carry the other frame's stamp.
        for (size_t i = kStressFrames - 1; i > 0; --i) {
            const size_t j = random.below(i + 1);
            const mm::PhysAddr t = g_frames[i];
            g_frames[i] = g_frames[j];
            g_frames[j] = t;
        }
        for (size_t i = 0; i < kStressFrames; ++i) {
            const uint64_t* words = mm::phys_to_pointer<uint64_t>(g_frames[i]);
            if (words[0] != (g_frames[i].value() ^ round) || words[511] != ~g_frames[i].value())
                fail("frames", "stamp overwritten", g_frames[i].value());
            ++checks;
            mm::free_frame_or_stop(frames, g_frames[i]);
        }
    }
    const mm::FrameStats after = frames.stats();
    if (!(after == before)) fail("frames", "counters do not balance", after.used);
    klog::info("frames").msg("stress passed").kv("frames", uint64_t(kStressFrames)).kv("rounds", kFrameRounds)
        .kv("pattern-checks", checks).kv("used-before", before.used).kv("used-after", after.used)
        .kv("free-before", before.free).kv("free-after", after.free);
}

// ---- heap -------------------------------------------------------------------

constexpr size_t kSlots = 512;
constexpr uint64_t kOperations = 3000;

struct Slot {
    uint8_t* p = nullptr;
    uint64_t size = 0;
    uint64_t align = 0;  // 0: the plain new[]
    uint64_t seed = 0;
};
Slot g_slots[kSlots];

// Mostly small objects, some pages, a few large buffers (one in fifty, still
// half the bytes the test writes and checks).
uint64_t pick_size(Random& random) {
    const uint64_t kind = random.below(100);
    if (kind < 70) return random.below(256);
    if (kind < 98) return 256 + random.below(4096);
    return 4096 + random.below(60 * 1024);
}

uint64_t pick_alignment(Random& random) {
    constexpr uint64_t kAlignments[] = {0, 0, 0, 0, 32, 64, 256, 4096};
    return kAlignments[random.below(sizeof(kAlignments) / sizeof(kAlignments[0]))];
}

// The payload is written and checked a 64-bit word at a time: a byte loop
// over the ~2 MB the test allocates costs a tenth of a second under QEMU's TCG.
// Word i of a block is pattern_word(seed, i); the bytes past the last whole
// word are the low bytes of the next pattern word.
uint64_t pattern_word(uint64_t seed, uint64_t i) { return seed ^ (i * 0x9E37'79B9'7F4A'7C15ull) ^ (i << 3); }

void fill(Slot& s) {
    const uint64_t words = s.size / 8;
    for (uint64_t i = 0; i < words; ++i) {
        const uint64_t w = pattern_word(s.seed, i);
        __builtin_memcpy(s.p + 8 * i, &w, 8);  // memcpy: a block need not be 8-byte aligned
    }
    const uint64_t tail = pattern_word(s.seed, words);
    __builtin_memcpy(s.p + 8 * words, &tail, s.size % 8);
}

// Where the payload differs from its pattern first, or nullptr when intact.
const uint8_t* first_overwritten(const Slot& s) {
    for (uint64_t i = 0; 8 * i < s.size; ++i) {
        const uint64_t expected = pattern_word(s.seed, i);
        const uint64_t n = s.size - 8 * i < 8 ? s.size - 8 * i : 8;  // the last word may be partial
        uint64_t found = expected;
        if (n == 8) __builtin_memcpy(&found, s.p + 8 * i, 8);  // a constant size: one load, not a call
        else __builtin_memcpy(&found, s.p + 8 * i, n);
        if (found == expected) continue;
        for (uint64_t k = 0; k < n; ++k)  // little-endian: byte k of the word is bits 8k..8k+7
            if (s.p[8 * i + k] != uint8_t(expected >> (8 * k))) return s.p + 8 * i + k;
    }
    return nullptr;
}

void check_and_delete(Slot& s) {
    if (const uint8_t* bad = first_overwritten(s)) fail("heap", "payload overwritten", reinterpret_cast<uint64_t>(bad));
    if (s.align == 0) ::operator delete[](s.p);
    else ::operator delete(s.p, s.size, std::align_val_t(s.align));
    s = {};
}

// book:begin heap-stress
void stress_heap(mm::BitmapFrameAllocator& frames, Random& random) {
    mm::HeapAllocator& heap = mm::kernel_heap();
    const mm::HeapStats before = heap.stats();
    const mm::FrameStats frames_before = frames.stats();
    const uint64_t tables_before = mm::kernel_heap_tables();
    uint64_t live = 0, max_live = 0, bytes = 0;
    for (uint64_t op = 0; op < kOperations; ++op) {
        Slot& s = g_slots[random.below(kSlots)];
        if (s.p != nullptr) {  // occupied: free it (after checking it)
            check_and_delete(s);
            --live;
            continue;
        }
        s.size = pick_size(random);
        s.align = pick_alignment(random);
        s.seed = random.next();
        s.p = s.align == 0 ? new uint8_t[s.size]
                           : static_cast<uint8_t*>(::operator new(s.size, std::align_val_t(s.align)));
        if (s.align != 0 && reinterpret_cast<uint64_t>(s.p) % s.align != 0)
            fail("heap", "misaligned allocation", reinterpret_cast<uint64_t>(s.p));
        fill(s);
        bytes += s.size;
        if (++live > max_live) max_live = live;
        if (op % 4096 == 0 && !heap.check().ok) fail("heap", heap.check().what, heap.check().where);
    }
    for (Slot& s : g_slots)
        if (s.p != nullptr) check_and_delete(s);
    const mm::HeapCheck check = heap.check();
    if (!check.ok) fail("heap", check.what, check.where);
    const mm::HeapStats after = heap.stats();
    const mm::FrameStats frames_after = frames.stats();
    // No leak: the heap's counters are back where they were, and every frame
    // the frame allocator gave out meanwhile is a heap page or a page table
    // mapping one (the heap keeps the pages it grew into).
    const uint64_t grown_pages = (after.committed - before.committed) / kPageSize;
    const uint64_t new_tables = mm::kernel_heap_tables() - tables_before;
    // (A table may come from the reserve, whose frames count as used already.)
    const uint64_t frames_taken = (frames_before.free - frames_after.free) + (frames_before.reserve - frames_after.reserve);
    if (after.live != before.live || after.used != before.used) fail("heap", "heap counters do not balance", after.live);
    if (frames_taken != grown_pages + new_tables) fail("heap", "frames do not balance", frames_taken);
    klog::info("heap").msg("stress passed").kv("operations", kOperations)
        .kv("allocations", after.allocations - before.allocations).kv("frees", after.frees - before.frees)
        .kv("max-live", max_live).kv("bytes", klog::size(bytes)).kv("live-after", after.live)
        .kv("used-after", after.used).kv("grew", klog::size(after.committed - before.committed))
        .kv("frames-taken", frames_taken).kv("heap-pages", grown_pages).kv("tables", new_tables)
        .kv("blocks", check.blocks).kv("free-blocks", check.free_blocks);
}
// book:end heap-stress

}  // namespace

void run_stress_test(mm::BitmapFrameAllocator& frames) {
    Random random;
    mm::log_frame_stats("before-stress", frames);
    mm::log_heap_stats("before-stress");
    stress_frames(frames, random);
    stress_heap(frames, random);
    mm::log_frame_stats("after-stress", frames);
    mm::log_heap_stats("after-stress");
}

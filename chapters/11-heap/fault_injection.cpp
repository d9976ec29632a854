#include "fault_injection.h"

#include <stdint.h>

#include "mm/heap_allocator.h"
#include "kernel/kernel.h"
#include "mm/kernel/frame_handover.h"
#include "mm/kernel/kernel_heap.h"
#include "kernel/panic.h"
#include "support/log.h"
#include "support/str.h"

namespace {

mm::BitmapFrameAllocator* g_allocator = nullptr;  // the allocator the bad frees go to

// test.heap-guard: read the page below the heap. It is never mapped, so the
// read must end in chapter 10's page-fault report (cause=guard-page
// region=guard-heap), not in a value.
void touch_heap_guard() {
    klog::warn("heap").msg("touching the guard page on request").kv("va", klog::hex(mm::kHeapGuard));
    const uint8_t value = *reinterpret_cast<volatile const uint8_t*>(mm::kHeapGuard.value());
    klog::error("heap").msg("the guard page was readable").kv("value", uint64_t(value));
    kernel::fail();
}

// ---- test.bad-free=…: bad frees on purpose ---------------------------------
// Each kind makes one bad free through the real free functions, which must
// refuse it and log the refusal by name, as they do any refusal. Each returns
// true when its bad free was refused, and leaves both allocators as it found
// them, so that test.bad-free=all can run every kind in one boot: the double
// frees free their allocation once for real before the refused second free,
// and the foreign frame was never the allocator's to begin with.

bool double_free_a_frame() {
    const mm::FrameResult frame = g_allocator->alloc_frame();
    KASSERT(frame.ok());
    mm::free_frame_or_stop(*g_allocator, frame.frame());
    return !mm::free_frame_or_log(*g_allocator, frame.frame());  // refused: double-free
}

bool free_a_foreign_frame() {
    return !mm::free_frame_or_log(*g_allocator, mm::PhysAddr(0x9000));  // below 1 MiB: never the allocator's
}

bool double_free_a_heap_block() {
    int* p = new int(11);
    delete p;
    return !mm::free_or_log(p);  // refused: double-free
}

// The refused free leaves the block in use with its canary broken: a leak,
// and a heap that check() calls damaged, under every kind after this one. So
// the canary byte is put back and the block freed for real.
bool overrun_a_heap_block() {
    char* p = new char[24];
    volatile size_t past_end = 24;
    const char canary_byte = p[past_end];
    p[past_end] = 'x';  // one byte past the end: the canary
    const bool refused = !mm::free_or_log(p);  // refused: overrun
    if (refused) {
        p[past_end] = canary_byte;
        delete[] p;
    }
    return refused;
}

struct BadFree {
    Str kind;               // the test.bad-free value
    const char* subsystem;  // whose refusal it is
    bool (*make)();         // true when the bad free was refused
};
// Every kind, in the order test.bad-free=all makes them.
constexpr BadFree kBadFrees[] = {
    {"frame-double", "frames", double_free_a_frame},
    {"frame-foreign", "frames", free_a_foreign_frame},
    {"heap-double", "heap", double_free_a_heap_block},
    {"heap-overrun", "heap", overrun_a_heap_block},
};

// What a bad free must leave as it found it: the counters of both allocators
// and the heap's blocks.
struct AllocatorState {
    mm::FrameStats frames;
    uint64_t heap_used, heap_live, heap_free_blocks;
    bool heap_whole;
    bool operator==(const AllocatorState&) const = default;
};

AllocatorState allocator_state() {
    const mm::HeapStats heap = mm::kernel_heap().stats();
    return {g_allocator->stats(), heap.used, heap.live, heap.free_blocks, mm::kernel_heap().check().ok};
}

// One bad free, announced first (the tests split a sweep's log at this line);
// false, and an error, when it was let through.
bool make_bad_free(const BadFree& bad) {
    klog::warn(bad.subsystem).msg("a bad free on request").kv("kind", bad.kind);
    if (bad.make()) return true;
    klog::error(bad.subsystem).msg("the bad free was accepted").kv("kind", bad.kind);
    return false;
}

// test.bad-free=all: every kind in turn, each refused and logged by the same
// free functions as a single bad free, so that one boot shows every refusal
// by name. A kind must leave the allocators clean for the next (one that does
// not stops the sweep: the kinds after it would not start clean). The boot
// then ends with the failure code, as a single bad free ends it.
[[noreturn]] void make_every_bad_free() {
    const AllocatorState clean = allocator_state();
    uint64_t accepted = 0;
    for (const BadFree& bad : kBadFrees) {
        if (!make_bad_free(bad)) ++accepted;
        if (allocator_state() != clean) {
            klog::error(bad.subsystem).msg("the bad free left the allocators changed").kv("kind", bad.kind);
            kernel::fail();
        }
    }
    klog::info("kernel").msg("every bad free tried").kv("kinds", uint64_t(sizeof(kBadFrees) / sizeof(BadFree)))
        .kv("accepted", accepted);
    kernel::fail();
}

// test.bad-free=<kind>: one bad free, whose refusal ends the boot;
// test.bad-free=all: every kind in one boot.
[[noreturn]] void bad_free(Str how) {
    if (how == Str("all")) make_every_bad_free();
    for (const BadFree& bad : kBadFrees)
        if (how == bad.kind) {
            make_bad_free(bad);
            kernel::fail();
        }
    kernel::panic("unknown test.bad-free value");
}

}  // namespace

void break_the_heap_if_requested(mm::BitmapFrameAllocator& steady) {
    g_allocator = &steady;
    const CommandLine command_line = kernel::command_line();
    if (command_line.has("test.heap-guard")) touch_heap_guard();
    if (const Str how = command_line.value("test.bad-free"); !how.empty()) bad_free(how);
}

#include "stale_tlb.h"

#include <stdint.h>

#include "kernel/kernel.h"
#include "mm/tlb_flush.h"
#include "support/log.h"
#include "test_frames.h"

namespace {

// book:begin stale-tlb
// The window at frame A, read once (the CPU now caches "slot -> A"), then its
// PTE pointed at frame B in place and the slot read again: once ignoring the
// flush token, once flushing it. Only the INVLPG makes the CPU look at the
// PTE again; without it, the read still lands on A.
void demonstrate_stale_tlb(mm::TemporaryWindow& window, mm::BootFrameAllocator& frames) {
    constexpr uint64_t kValueA = 0xAAAA'AAAA'0000'000Aull, kValueB = 0xBBBB'BBBB'0000'000Bull;
    const mm::PhysAddr a = take_frame(frames), b = take_frame(frames);
    *through_phys_window(a) = kValueA;
    *through_phys_window(b) = kValueB;
    klog::info("tlb").msg("frames").kv("a", klog::hex(a)).kv("value-a", klog::hex(kValueA))
        .kv("b", klog::hex(b)).kv("value-b", klog::hex(kValueB));

    const bool flushes[] = {false, true};
    for (const bool flush : flushes) {
        mm::TemporaryMapping mapping = window.map(a);
        volatile uint64_t* word = mapping.ptr<volatile uint64_t>();
        const uint64_t before = *word;  // a TLB miss: the CPU walks the tables and caches slot -> A
        mm::TlbFlush token = mapping.remap(b);
        if (flush)
            token.flush();
        else
            token.ignore();  // on purpose: the stale translation is what this shows
        const uint64_t got = *word;
        klog::info("tlb").msg("stale read").kv("flushed", flush).kv("pte-frame", klog::hex(mapping.frame()))
            .kv("before", klog::hex(before)).kv("expected", klog::hex(kValueB)).kv("got", klog::hex(got))
            .kv("stale", got == kValueA);
    }
}
// book:end stale-tlb

}  // namespace

void demonstrate_stale_tlb_if_requested(mm::TemporaryWindow& window, mm::BootFrameAllocator& frames) {
    if (kernel::command_line().has("test.stale-tlb")) demonstrate_stale_tlb(window, frames);
}

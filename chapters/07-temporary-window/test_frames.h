// Frames for the window's self-test and the stale-TLB demonstration: taken
// from the boot allocator, and read or written through the phys-offset
// window, the independent path the temporary window's reads are held against.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/panic.h"
#include "mm/boot_frame_allocator.h"
#include "mm/phys_window.h"
#include "support/log.h"

inline mm::PhysAddr take_frame(mm::BootFrameAllocator& frames) {
    const mm::FrameResult frame = frames.alloc_frame();
    if (!frame.ok()) {
        klog::error("tlb").msg("no frame for the temporary window's tests");
        kernel::fail();
    }
    return frame.frame();
}

inline volatile uint64_t* through_phys_window(mm::PhysAddr frame, size_t word = 0) {
    return mm::phys_to_pointer<volatile uint64_t>(frame) + word;
}

#include "exhaustion.h"

#include <stdint.h>

#include "kernel/kernel.h"
#include "kernel/panic.h"
#include "support/log.h"

void exhaust_if_requested(mm::BootFrameAllocator& frames, FrameProblem problem) {
    if (!kernel::command_line().has("test.exhaust")) return;
    uint64_t count = 0;
    for (;;) {
        const mm::FrameResult result = frames.alloc_frame();
        if (!result.ok()) break;
        if (const char* why = problem(result.frame())) {
            klog::error("frames").msg("self-test failed").kv("frame", klog::hex(result.frame())).kv("reason", why);
            kernel::fail();
        }
        ++count;
    }
    klog::info("frames").msg("exhausted").kv("frames", count).kv("handed-out", frames.frames_handed_out())
        .kv("remaining", frames.frames_remaining());
    uint64_t tables = 0;
    while (frames.alloc_page_table_frame().ok()) ++tables;
    klog::info("frames").msg("reserve after exhaustion").kv("page-table-frames", tables)
        .kv("reserve-capacity", uint64_t(mm::BootFrameAllocator::kPageTableReserve));
}

#include "mm/kernel/frame_counts.h"

#include "kernel/panic.h"
#include "mm/phys_window.h"
#include "support/assert.h"
#include "support/log.h"

namespace mm {
namespace {

// The count pages, reached like every other frame: through the window.
class WindowRefCountStorage final : public RefCountStorage {
public:
    uint16_t* counts_in(PhysAddr frame) override { return phys_to_pointer<uint16_t>(frame); }
};

WindowRefCountStorage g_storage;
FrameRefCounts g_counts;
bool g_started = false;

}  // namespace

FrameRefCounts& start_frame_counts(BitmapFrameAllocator& frames) {
    KASSERT(!g_started);
    if (const RefCountInitStatus status = g_counts.init_beside(frames, g_storage); status != RefCountInitStatus::kOk) {
        klog::error("cow").msg("refcounts refused").kv("rule", describe(status));
        kernel::fail();
    }
    g_started = true;
    klog::info("cow").msg("refcounts").kv("frames", g_counts.frames_covered()).kv("count-pages", g_counts.count_pages())
        .kv("bytes", g_counts.count_pages() * kPageSize);
    return g_counts;
}

FrameRefCounts& frame_counts() {
    KASSERT(g_started);
    return g_counts;
}

}  // namespace mm

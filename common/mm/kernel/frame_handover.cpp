#include "mm/kernel/frame_handover.h"

#include "kernel/panic.h"
#include "mm/phys_window.h"
#include "support/log.h"

namespace mm {
namespace {

// The bitmap lives in free frames, reached through the phys-offset window.
class WindowBitmapStorage final : public BitmapStorage {
public:
    uint64_t* words_at(PhysAddr first, uint64_t) override { return phys_to_pointer<uint64_t>(first); }
};

}  // namespace

// book:begin handover-phase
void hand_over_frames(KernelAddressSpace& space, BitmapFrameAllocator& steady) {
    const BootMemory& memory = space.memory();
    BootFrameAllocator& boot = space.frames();
    // Where the frames come from, per UEFI type, counted from the descriptors
    // themselves: an account independent of the range list the allocator used.
    const UsableByType by_type = usable_by_type(memory.descriptors, BootFrameAllocator::kLowestFrame, memory.ranges);
    for (size_t i = 0; i < by_type.count; ++i) {
        const UsableByType::Entry& e = by_type.entries[i];
        klog::info("frames").msg("usable").kv("type", boot::memory_type_name(e.type)).kv("frames", e.frames)
            .kv("bytes", klog::size(e.frames * kPageSize));
    }
    klog::info("frames").msg("reclaimed").kv("frames", by_type.reclaimed_frames)
        .kv("bytes", klog::size(by_type.reclaimed_frames * kPageSize)).kv("from", "boot-code+boot-data+loader-data");

    WindowBitmapStorage storage;
    const HandoverResult handover = steady.take_over(boot, storage);
    if (!handover.ok) {
        klog::error("frames").msg("handover failed").kv("rule", "the bitmap needs a run of free frames");
        kernel::fail();
    }
    const FrameStats s = steady.stats();
    klog::info("frames").msg("handover").kv("to", "bitmap").kv("regions", uint64_t(steady.region_count()))
        .kv("frames", s.total).kv("inherited", handover.inherited).kv("reserve-moved", handover.reserve_moved).kv("reserve", s.reserve)
        .kv("bitmap", klog::hex(handover.bitmap_start)).kv("bitmap-frames", handover.bitmap_frames)
        .kv("used", s.used).kv("free", s.free);
    if (s.total != by_type.total_frames) {
        klog::error("frames").msg("handover disagrees with the memory map").kv("frames", s.total)
            .kv("map-frames", by_type.total_frames);
        kernel::fail();
    }
}
// book:end handover-phase

void log_frame_stats(const char* when, const BitmapFrameAllocator& frames) {
    const FrameStats s = frames.stats();
    klog::info("frames").msg("stats").kv("when", when).kv("total", s.total).kv("used", s.used).kv("free", s.free)
        .kv("reserve", s.reserve).kv("bitmap-frames", s.bitmap);
}

bool free_frame_or_log(BitmapFrameAllocator& frames, PhysAddr frame) {
    const FrameFreeStatus status = frames.free(frame);
    if (status == FrameFreeStatus::kOk) return true;
    klog::error("frames").msg("free rejected").kv("frame", klog::hex(frame)).kv("reason", name(status))
        .kv("rule", describe(status));
    return false;
}

void free_frame_or_stop(BitmapFrameAllocator& frames, PhysAddr frame) {
    if (!free_frame_or_log(frames, frame)) kernel::fail();
}

}  // namespace mm

#include "mm/kernel/fork_oom_test.h"

#include "kernel/kernel.h"
#include "support/log.h"

namespace mm {
namespace {

// The allocator's frames, until `limit` of them are out: then none.
class RunningDry final : public FrameSource {
public:
    void reset(BitmapFrameAllocator& frames, uint64_t limit) {
        frames_ = &frames;
        left_ = limit;
    }
    FrameResult alloc_frame() override { return left_-- > 0 ? frames_->alloc_frame() : none(); }
    FrameResult alloc_page_table_frame() override { return left_-- > 0 ? frames_->alloc_page_table_frame() : none(); }
    size_t page_table_frames_available() const override { return left_ > 0 ? left_ : 0; }

private:
    static FrameResult none() { return FrameResult::out_of_memory(); }
    BitmapFrameAllocator* frames_ = nullptr;
    int64_t left_ = 0;
};

RunningDry g_running_dry;
constexpr int64_t kFramesBeforeDry = 5;

}  // namespace

FrameSource& fork_table_frames(const Process& parent, BitmapFrameAllocator& frames) {
    if (kernel::command_line().value("test.fork-oom") != Str(parent.name)) return frames;
    klog::warn("test").msg("fork runs out of frames").kv("pid", parent.pid).kv("name", parent.name)
        .kv("after", uint64_t(kFramesBeforeDry));
    g_running_dry.reset(frames, kFramesBeforeDry);
    return g_running_dry;
}

}  // namespace mm

#include "kernel/recovery_point.h"

#include "kernel/panic.h"

// Written by recovery_point.S as well, hence C names.
extern "C" {
uint64_t g_recovery_point_rip = 0;  // the landing address while armed; 0 when not
uint64_t g_recovery_point_rsp = 0;
uint64_t g_recovery_point_rflags = 0;
bool recovery_point_call(void (*body)(void*), void* context);
extern const char recovery_point_landing[];
}

namespace kernel {

bool run_at_recovery_point(void (*body)(void* context), void* context) {
    KASSERT(!recovery_point_armed());  // one slot: a nested point would overwrite the outer one
    return recovery_point_call(body, context);
}

bool recovery_point_armed() { return g_recovery_point_rip != 0; }

void resume_at_recovery_point(TrapFrame& frame) {
    KASSERT(recovery_point_armed());
    frame.rip = g_recovery_point_rip;
    frame.rsp = g_recovery_point_rsp;
    frame.rflags = g_recovery_point_rflags;
    // The kernel's own selectors: the recovery point runs in the kernel, whatever was interrupted.
    frame.cs = kKernelCodeSelector;
    frame.ss = kKernelDataSelector;
    g_recovery_point_rip = 0;
}

bool frame_resumes_at_recovery_point(const TrapFrame& frame) {
    return frame.rip == reinterpret_cast<uint64_t>(recovery_point_landing);
}

}  // namespace kernel

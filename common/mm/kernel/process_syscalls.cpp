#include "mm/kernel/process_syscalls.h"

#include "abi/memory_syscalls.h"
#include "abi/process_syscalls.h"
#include "abi/syscalls.h"
#include "mm/copy_on_write.h"
#include "mm/kernel/cow_hold.h"
#include "mm/kernel/fork_oom_test.h"
#include "mm/kernel/forking_processes.h"
#include "mm/kernel/frame_counts.h"
#include "mm/kernel/memory_syscalls.h"
#include "mm/kernel/scheduler.h"
#include "mm/kernel/syscalls.h"
#include "mm/user_layout.h"
#include "support/assert.h"
#include "support/log.h"

namespace mm {
namespace {

int64_t refuse(const Task& t, const char* call, const char* field, uint64_t value, const char* rule, int64_t error) {
    klog::warn("sched").msg("refused").kv("pid", t.process.pid).kv("name", t.process.name).kv("call", call)
        .kv("field", field).kv("value", klog::hex(value)).kv("rule", rule).kv("returns", int(-error));
    return -error;
}

// book:begin sys-fork
int64_t sys_fork(Task& parent, const kernel::SyscallFrame& frame) {
    FrameRefCounts& counts = frame_counts();
    BitmapFrameAllocator& frames = parent.memory.frames;
    Task* child = new_task(parent.process.name, parent.process.pid, fork_table_frames(parent.process, frames), frames,
                           parent.memory.owner, parent.memory.module);
    if (child == nullptr)
        return refuse(parent, "fork", "tasks", kMaxTasks, "the process table is full", abi::kErrorAgain);
    child->memory.regions = parent.memory.regions;  // the same regions: the clone maps the same pages

    const uint64_t used_before = frames.stats().used, references_before = counts.references();
    PhysWindowMemory tables;
    BitmapSink sink(frames);
    CloneResult clone = clone_copy_on_write(parent.space, child->space, kernel_root(), tables, counts, sink,
                                            parent.memory.tlb);
    if (!clone.ok()) {  // the clone undid itself: parent, counts and allocator as they were
        free_task(*child);
        klog::warn("cow").msg("fork refused").kv("pid", parent.process.pid).kv("name", parent.process.name)
            .kv("reason", name(clone.status)).kv("rule", describe(clone.status)).kv("at", klog::hex(clone.failed_at))
            .kv("used-before", used_before).kv("used-after", frames.stats().used)
            .kv("references-before", references_before).kv("references-after", counts.references())
            .kv("returns", int(-abi::kErrorNoMemory));
        return -abi::kErrorNoMemory;
    }
    // The parent is the running address space: its write-protected leaves
    // are invalidated before it writes again, or a stale writable
    // translation would write the frame the child now shares.
    const uint64_t invlpg = clone.flush.flush();
    child->registers = frame;  // the child resumes from this same call ...
    child->result = 0;         // ... and it returns 0 there,
    kernel::save_fpu(child->fpu);  // with the parent's x87/SSE registers, still in the CPU
    child->segments = kernel::save_user_segments();  // and its FS and GS selectors
    klog::info("cow").msg("fork").kv("pid", parent.process.pid).kv("name", parent.process.name)
        .kv("child", child->process.pid).kv("cow", clone.copy_on_write).kv("shared-read-only", clone.shared_read_only)
        .kv("borrowed", clone.borrowed).kv("child-tables", clone.child_tables)
        .kv("write-protected", clone.flush.pages()).kv("invlpg", invlpg)
        .kv("child-pml4", klog::hex(child->space.pml4())).kv("references", counts.references());
    log_cow_audit("fork");
    return int64_t(child->process.pid);
}
// book:end sys-fork

// book:begin sys-wait
// A zombie child of `t`, or nullptr; *any_child says whether it has children at all.
Task* ended_child(const Task& t, bool* any_child) {
    Task* found = nullptr;
    *any_child = false;
    for_each_task([&](Task& c) {
        if (c.parent != t.process.pid) return;
        *any_child = true;
        if (c.state == TaskState::kZombie && found == nullptr) found = &c;
    });
    return found;
}

// Takes an ended child: its code to *status (in the caller's address space,
// which is loaded), its pid returned, its slot freed.
int64_t take_child(Task& t, Task& child) {
    if (t.wait_status != 0) {
        uint64_t fault = 0;
        if (!copy_to_user(t.wait_status, &child.exit_code, sizeof(child.exit_code), &fault).ok())
            return refuse(t, "wait", "status", t.wait_status, "must point to writable memory of the program",
                          abi::kErrorFault);
    }
    const uint64_t pid = child.process.pid;
    klog::info("sched").msg("wait").kv("pid", t.process.pid).kv("name", t.process.name).kv("child", pid)
        .kv("code", int(child.exit_code));
    free_task(child);
    return int64_t(pid);
}

// wait() after a child ended, run by the scheduler under the parent's CR3.
int64_t finish_wait(Task& t) {
    bool any = false;
    Task* child = ended_child(t, &any);
    KASSERT(child != nullptr);  // only a child's end makes a waiting parent ready
    return take_child(t, *child);
}

int64_t sys_wait(Task& t, const kernel::SyscallFrame& frame) {
    const uint64_t status = frame.arg[0];
    if (status != 0) {
        if (Violation v = check_user_range("status", status, sizeof(int64_t)); !v.ok())
            return refuse(t, "wait", v.field, v.value, v.rule, abi::kErrorFault);
    }
    t.wait_status = status;
    bool any = false;
    if (Task* child = ended_child(t, &any)) return take_child(t, *child);
    if (!any) return refuse(t, "wait", "children", 0, "has no child to wait for", abi::kErrorNoChild);
    t.state = TaskState::kWaiting;  // a child's end makes it ready, and finish_wait completes the call
    t.finish = finish_wait;
    kernel::suspend_user(frame, 0);
}
// book:end sys-wait

}  // namespace

int64_t handle_process_syscall(kernel::SyscallFrame& frame) {
    Task* t = current_task();
    KASSERT(t != nullptr);
    switch (abi::ProcessSyscall(frame.number)) {
        case abi::ProcessSyscall::kFork: return sys_fork(*t, frame);
        case abi::ProcessSyscall::kYield: kernel::suspend_user(frame, 0);  // still ready: it runs again at its turn
        case abi::ProcessSyscall::kWait: return sys_wait(*t, frame);
    }
    if (abi::Syscall(frame.number) == abi::Syscall::kWrite) hold_in_child_if_requested(*t);  // cow.hold=NAME
    return handle_memory_syscall(frame);
}

}  // namespace mm

#include "mm/kernel/scheduler.h"

#include <new>

#include "arch/x86/cpu.h"
#include "kernel/panic.h"
#include "kernel/screen_console.h"
#include "support/assert.h"
#include "support/log.h"

namespace mm {
namespace {

// The table: storage for kMaxTasks tasks, built in place as they come.
alignas(Task) unsigned char g_storage[kMaxTasks][sizeof(Task)];
Task* g_tasks[kMaxTasks] = {};
Task* g_current = nullptr;
uint64_t g_next_pid = 1;
PhysAddr g_kernel_root;  // what CR3 loads for the kernel (its PML5 at five levels)
TurnRunner g_run_turn = run_turn_here;

}  // namespace

const char* task_state_name(TaskState state) {
    switch (state) {
        case TaskState::kReady: return "ready";
        case TaskState::kWaiting: return "waiting";
        case TaskState::kZombie: return "zombie";
    }
    return "?";
}

Task::Task(uint64_t pid, const char (&name)[32], uint64_t parent_pid, PhysicalMemoryAccess& tables,
           FrameSource& table_frames, BitmapFrameAllocator& frames, ProcessFrames& owner, PhysAddr module)
    : process{pid, {}}, parent(parent_pid), space(tables, table_frames), memory{{}, space, frames, owner, module, {}} {
    for (size_t i = 0; i < sizeof(name); ++i) process.name[i] = name[i];
}

Task* new_task(const char (&name)[32], uint64_t parent, FrameSource& table_frames, BitmapFrameAllocator& frames,
               ProcessFrames& owner, PhysAddr module) {
    static PhysWindowMemory tables;  // every task's tables, through the window
    for (size_t i = 0; i < kMaxTasks; ++i) {
        if (g_tasks[i] != nullptr) continue;
        g_tasks[i] = new (g_storage[i]) Task(g_next_pid++, name, parent, tables, table_frames, frames, owner, module);
        return g_tasks[i];
    }
    return nullptr;
}

void free_task(Task& task) {
    KASSERT(&task != g_current);
    KASSERT(task.space.root().value() == 0);  // its tables went back first (or were never made)
    KASSERT(task.memory.tlb.cpus().loaded().empty());  // and no CPU keeps them (chapter 15)
    for (size_t i = 0; i < kMaxTasks; ++i) {
        if (g_tasks[i] != &task) continue;
        task.~Task();
        g_tasks[i] = nullptr;
        return;
    }
    KASSERT(false && "free_task of a task not in the table");
}

Task* task_slot(size_t index) { return index < kMaxTasks ? g_tasks[index] : nullptr; }
Task* current_task() { return g_current; }
PhysAddr kernel_root() { return g_kernel_root; }

Task* find_task(uint64_t pid) {
    for (Task* t : g_tasks)
        if (t != nullptr && t->process.pid == pid) return t;
    return nullptr;
}

size_t live_address_spaces(PhysAddr (&out)[kMaxTasks]) {
    size_t n = 0;
    for (Task* t : g_tasks)
        if (t != nullptr && t->state != TaskState::kZombie) out[n++] = t->space.pml4();
    return n;
}

namespace {

// The next ready task after slot `last`, round robin.
Task* next_ready(size_t& last) {
    for (size_t step = 1; step <= kMaxTasks; ++step) {
        const size_t i = (last + step) % kMaxTasks;
        if (g_tasks[i] != nullptr && g_tasks[i]->state == TaskState::kReady) {
            last = i;
            return g_tasks[i];
        }
    }
    return nullptr;
}

}  // namespace

// book:begin run-turn
// A turn on this CPU: the task's CR3, the call it waits on finished, its
// x87/SSE registers, ring 3 until it gives the CPU back; then the kernel's
// tables again.
kernel::UserOutcome run_turn_here(Task& t) {
    log_turn(t, 0);
    kernel::screen_shares_kernel_half(t.space.root().value());
    x86::write_cr3(t.space.root().value());  // the last process's user translations go (none is global)
    const kernel::UserOutcome outcome = run_turn_loaded(t);
    x86::write_cr3(g_kernel_root.value());
    kernel::screen_shares_kernel_half(0);
    return outcome;
}

kernel::UserOutcome run_turn_loaded(Task& t) {
    if (t.finish != nullptr) {  // a call that could only complete now, under this CR3
        t.result = t.finish(t);
        t.finish = nullptr;
    }
    kernel::load_fpu(t.fpu);
    kernel::load_user_segments(t.segments);
    const kernel::UserOutcome outcome = kernel::resume_user(t.registers, t.result);
    t.segments = kernel::save_user_segments();  // what it left in FS and GS, and
    kernel::save_fpu(t.fpu);  // in the x87/SSE registers, for its next turn
    return outcome;
}
// book:end run-turn

void log_turn(const Task& t, unsigned cpu, const char* tables) {
    klog::Line line = klog::info("sched");
    line.msg("run").kv("pid", t.process.pid).kv("name", t.process.name).kv("cr3", klog::hex(t.space.root()))
        .kv("cpu", cpu);
    if (tables != nullptr) line.kv("tables", tables);
}

void set_turn_runner(TurnRunner run) { g_run_turn = run != nullptr ? run : run_turn_here; }

// book:begin run-tasks
void run_tasks(KernelAddressSpace& kernel_space, TaskEnd end_task) {
    g_kernel_root = kernel_space.root();
    size_t last = kMaxTasks - 1;
    while (Task* t = next_ready(last)) {
        g_current = t;
        set_current_process(&t->process);
        set_current_memory(&t->memory);
        const kernel::UserOutcome outcome = g_run_turn(*t);  // here, or on another CPU (chapter 15)
        set_current_memory(nullptr);
        set_current_process(nullptr);
        g_current = nullptr;
        if (outcome.end == kernel::UserEnd::kSuspended) {  // yield or wait: its state says which
            t->registers = outcome.registers;
            t->result = outcome.code;
        } else {
            end_task(*t, outcome);
        }
    }
    for (Task* t : g_tasks) {  // nothing is ready: nothing may be left
        if (t == nullptr) continue;
        klog::error("sched").msg("stuck").kv("pid", t->process.pid).kv("name", t->process.name)
            .kv("state", task_state_name(t->state));
        kernel::fail();
    }
}
// book:end run-tasks

}  // namespace mm

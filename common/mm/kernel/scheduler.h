// A cooperative scheduler (chapter 14): several processes at once, each in
// its own address space, taking turns only where they say so.
//
// Chapters 12 and 13 ran one program from start to end. With fork, a parent
// and its child both exist, and the book wants to show both address spaces
// side by side, so something must decide which one runs. The smallest
// thing that does: a table of processes and a round-robin loop that runs the
// next ready one until it gives the CPU back at a system call (yield, wait)
// or ends (exit, a kill). No timer, no preemption: a program that never
// yields runs to its end, and every switch happens at a SYSCALL, whose frame
// (kernel/user_mode.h) holds all the program needs to resume.
//
// A switch is a CR3 load: the processes share the kernel's upper half, and
// none of their translations is global, so loading the next PML4 drops the
// last one's user translations from the TLB — on one CPU, without PCIDs
// (chapter 15 has more than one CPU, each with a TLB of its own). And the
// x87/SSE registers and the FS and GS selectors, which the kernel never
// uses, are saved and loaded.
//   [INFO  sched] run pid=… name=… cr3=0x… cpu=0
// A process that ends gives back its frames through the counts at once, then
// waits as a zombie, holding only its exit code, until its parent's wait()
// takes it; one whose parent is gone (an orphan) is forgotten at once.
//   [INFO  user] exit pid=… name=… end=exit code=… pages=… still-shared=… tables=…
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/user_mode.h"
#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/process_memory.h"
#include "mm/kernel/processes.h"
#include "mm/phys_window.h"
#include "mm/user_address_space.h"

namespace mm {

enum class TaskState : uint8_t {
    kReady,    // runs at its turn
    kWaiting,  // in wait(), until a child ends
    kZombie,   // ended; its exit code waits for the parent's wait()
};
const char* task_state_name(TaskState state);

// book:begin task
struct Task {
    Process process;                   // pid and name
    uint64_t parent;                   // the parent's pid; 0 for the module's first process, or an orphan
    TaskState state = TaskState::kReady;
    UserAddressSpace space;
    ProcessMemory memory;
    kernel::SyscallFrame registers{};  // where it resumes: its last system call (first: its entry)
    int64_t result = 0;                // what that call returns
    kernel::FpuState fpu = kernel::initial_fpu_state();  // its x87/SSE registers while another runs
    kernel::UserSegments segments{};   // its FS and GS selectors while another runs
    int64_t (*finish)(Task&) = nullptr;  // a call to complete under its CR3 before it resumes (wait)
    uint64_t wait_status = 0;          // wait(): where the child's exit code goes
    int64_t exit_code = 0;             // a zombie's
    uint64_t copied = 0, taken_over = 0;  // copy-on-write faults it took (cow_faults.h)

    Task(uint64_t pid, const char (&name)[32], uint64_t parent, PhysicalMemoryAccess& tables, FrameSource& table_frames,
         BitmapFrameAllocator& frames, ProcessFrames& owner, PhysAddr module);
};
// book:end task

inline constexpr size_t kMaxTasks = 8;

// A new ready task (the next pid), or nullptr when the table is full. Its
// tables come from `table_frames`; its pages from `frames` through `owner`.
Task* new_task(const char (&name)[32], uint64_t parent, FrameSource& table_frames, BitmapFrameAllocator& frames,
               ProcessFrames& owner, PhysAddr module);
// Forgets a task whose address space was never created or is already
// given back (a refused fork's child, a reaped zombie).
void free_task(Task& task);

Task* current_task();
Task* find_task(uint64_t pid);
// Calls visit(Task&) for every task in the table, in slot order.
template <typename Visit>
void for_each_task(Visit&& visit);
// The PML4s of every task that still has an address space, in slot order.
size_t live_address_spaces(PhysAddr (&out)[kMaxTasks]);

// Runs ready tasks in turn until none is ready. `end_task` is called, with
// the kernel's CR3 loaded, for each task that exits or is killed.
using TaskEnd = void (*)(Task& task, const kernel::UserOutcome& outcome);
void run_tasks(KernelAddressSpace& kernel_space, TaskEnd end_task);

// The kernel's root table while run_tasks() runs: what CR3 loads for the
// kernel and what fork shares the upper half of (its PML4, or its PML5 at
// five levels).
PhysAddr kernel_root();

// Where a turn runs. Chapter 14 runs every turn on this CPU (run_turn_here);
// chapter 15 hands each to one of the CPUs (kernel/process_cpus.h). Either
// returns how the task gave the CPU back. A runner logs the turn:
//   [INFO  sched] run pid=… name=… cr3=0x… cpu=…
using TurnRunner = kernel::UserOutcome (*)(Task& t);
void set_turn_runner(TurnRunner run);  // nullptr: run_turn_here
kernel::UserOutcome run_turn_here(Task& t);
// The part of a turn that follows the CR3 load, on whichever CPU runs it:
// the pending call finished (wait), the task's x87/SSE registers, ring 3.
kernel::UserOutcome run_turn_loaded(Task& t);
// `tables`: whether the CPU loaded the task's tables or kept them (chapter 15).
void log_turn(const Task& t, unsigned cpu, const char* tables = nullptr);

// ---- implementation of the template -----------------------------------------
Task* task_slot(size_t index);  // the task in slot `index`, or nullptr

template <typename Visit>
void for_each_task(Visit&& visit) {
    for (size_t i = 0; i < kMaxTasks; ++i)
        if (Task* t = task_slot(i)) visit(*t);
}

}  // namespace mm

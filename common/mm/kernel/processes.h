// Processes (chapter 12): the boot modules run one at a time, each in its own
// address space, in ring 3, until it exits or is killed; then everything it
// owned goes back to the frame allocator, and the kernel goes on.
//
// First, the lower half every program gets (user_layout.h):
//   [INFO  user] layout lowest=0x400000 limit=0x7ffffffff000 lower-half-end=0x800000000000
// Per program (pid 1, 2, … in the order of the handoff's module table):
//   [INFO  user] segment pid=… va=0x… pages=… rights=r-x|r--|rw-
//   [INFO  user] stack pid=… va=0x… pages=… rights=rw- guard=0x…   (chapter 12, mapped before it runs)
//   [INFO  user] start name=hello pid=2 entry=0x… pml4=0x… stack-top=0x… pages=… tables=… used-before=…
//   … its system calls (syscalls.h) and, if it breaks a rule, one line:
//   [WARN  user] killed pid=… name=… rule=… addr=0x… …
//   [INFO  user] exit pid=… name=… end=exit|killed code=… frames-returned=… used-before=… used-after=… balanced=yes
// A module that is not a valid user ELF is refused by name and skipped:
//   [WARN  user] rejected name=… field=… value=… rule="…"
// And at the end:
//   [INFO  user] all programs done programs=… exited=… killed=… rejected=… balanced=yes
#pragma once

#include <stdint.h>

#include "boot/handoff.h"
#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/address_space.h"
#include "mm/user_address_space.h"
#include "mm/user_elf.h"

namespace mm {

struct Process {
    uint64_t pid;
    char name[32];  // the module's name without ".elf"
};

// A process's name: its module's, without ".elf".
void process_name(const boot::BootModule& module, char (&out)[32]);

// The module's program as the user-ELF reader reads it; on a refusal, logs
// `[WARN  user] rejected name=… field=… value=… rule=…` and returns false.
bool read_program(const boot::BootModule& module, UserImage* image);

// What the programs of one boot came to, for the `all programs done` line.
struct Totals {
    uint64_t programs = 0, exited = 0, killed = 0, rejected = 0;
    bool balanced = true;
};

// Runs one program as pid `pid` and counts how it ended in `totals`.
using ProgramRunner = void (*)(const boot::BootModule& module, uint64_t pid, KernelAddressSpace& kernel_space,
                               BitmapFrameAllocator& frames, Totals& totals);

// Every boot module in the handoff's order through `run_program`, between a
// `[INFO  user] modules count=…` line and `[INFO  user] all programs done …`
// with the totals and whether the allocator's count came back (chapters 12
// and 13 differ only in how one program runs).
void run_each_boot_module(KernelAddressSpace& space, BitmapFrameAllocator& frames, ProgramRunner run_program);

// The bitmap as the sink an address space returns its frames to.
class BitmapSink final : public FrameSink {
public:
    explicit BitmapSink(BitmapFrameAllocator& frames) : frames_(frames) {}
    bool return_frame(PhysAddr frame) override { return frames_.free(frame) == FrameFreeStatus::kOk; }

private:
    BitmapFrameAllocator& frames_;
};

// The process running now, or nullptr between programs.
const Process* current_process();
// Makes `process` the one current_process() names (nullptr: none). Only a
// runner that enters programs itself needs it (chapter 13's, demand_processes.h).
void set_current_process(const Process* process);

// The CPU side (kernel/user_mode.h) with this library's system calls, and
// the trap handler that reports a fault in ring 3 and kills the program.
void start_user_mode();

// Runs every boot module, in order. Stops the boot only when the kernel
// itself is in trouble (a frame that will not go back).
void run_boot_modules(KernelAddressSpace& space, BitmapFrameAllocator& frames);

}  // namespace mm

// A recovery point: call a function that is expected to fault, and come back.
//
// The kernel's self-tests fault on purpose (chapter 10's test.fault=all). Each
// fault must go through the same trap handler and get the same report as a
// real one, and then the next test must run, in the same boot.
//
// run_at_recovery_point() arms a recovery point and calls the test. If an
// exception arrives while it is armed, the trap handler writes its report and
// calls resume_at_recovery_point(), which rewrites the interrupted frame: the
// trap stub's IRETQ then lands back in run_at_recovery_point(), on the stack,
// with the flags and the callee-saved registers it had when it called the
// test, and run_at_recovery_point() returns false.
//
// Nothing the test left half done is undone: whatever it changed, it must
// repair itself afterwards. A recovery point is for code written to be cut off
// at any instruction, as Linux's exception-table fixups are for the few
// instructions that may fault on purpose; it does not make a fault in ordinary
// code survivable, and a fault with no recovery point armed still ends the
// kernel.
#pragma once

#include "kernel/early_cpu.h"

namespace kernel {

// Calls body(context) with a recovery point armed. True if body returned,
// false if it faulted and the trap handler resumed here. Not nestable.
bool run_at_recovery_point(void (*body)(void* context), void* context);

// For trap handlers: a recovery point is armed, so this fault was asked for.
bool recovery_point_armed();

// Points `frame` at the armed recovery point and disarms it; the trap stub's
// IRETQ then resumes there. Only while recovery_point_armed().
void resume_at_recovery_point(TrapFrame& frame);

// True when `frame` was pointed at a recovery point: the trap stub may return.
bool frame_resumes_at_recovery_point(const TrapFrame& frame);

}  // namespace kernel

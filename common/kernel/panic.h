// How the kernel stops: success, failure, panic, and assertions.
#pragma once

#include "boot/exit_codes.h"
#include "support/assert.h"

namespace kernel {

// Writes `code` to QEMU's isa-debug-exit port, which ends the emulator with
// status (code << 1) | 1. On real hardware nothing listens there, so the CPU
// then halts forever: the last log line stays the last thing that happened.
[[noreturn]] void exit_kernel(boot::ExitCode code);

// A refusal has been logged, by name, where it was found: end the boot with
// the failure code. The one way every phase, check and chapter stops on a
// refusal (a broken assumption of the kernel's own is a panic instead).
[[noreturn]] void fail();

// Logs `[PANIC kernel] <message> file=... line=...` and exits with the failure code.
[[noreturn]] void panic(const char* message, const char* file = __builtin_FILE(), int line = __builtin_LINE());

}  // namespace kernel

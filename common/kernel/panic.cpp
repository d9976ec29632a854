#include "kernel/panic.h"

#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "support/log.h"

namespace kernel {

void exit_kernel(boot::ExitCode code) {
    x86::outb(boot::kDebugExitPort, static_cast<uint8_t>(code));
    x86::halt_forever();
}

void fail() { exit_kernel(boot::ExitCode::kFailure); }

void panic(const char* message, const char* file, int line) {
    klog::Line(klog::Level::kPanic, "kernel").msg(message).kv("file", file).kv("line", line);
    fail();
}

}  // namespace kernel

void kassert_failed(const char* expression, const char* file, int line) { kernel::panic(expression, file, line); }

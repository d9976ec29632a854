// kernel_start: from the entry stub to the chapter's kernel_main.
#include "arch/x86/cpu.h"
#include "boot/handoff.h"
#include "kernel/console.h"
#include "kernel/cpu_protections.h"
#include "kernel/early_cpu.h"
#include "kernel/kernel.h"
#include "kernel/panic.h"
#include "kernel/screen_console.h"
#include "kernel/unknown_options.h"
#include "support/log.h"

extern "C" {
using Constructor = void (*)();
extern const Constructor __init_array_start[], __init_array_end[];
}

namespace kernel {
namespace {

const boot::BootHandoff* g_handoff = nullptr;

void run_global_constructors() {
    for (const Constructor* constructor = __init_array_start; constructor != __init_array_end; ++constructor)
        (*constructor)();
}

// Only the header is checked here, because every chapter needs it to read any
// other field. Chapter 02 validates the rest (the memory map above all).
void check_handoff_header(const boot::BootHandoff* handoff) {
    const char* rule = nullptr;
    const char* field = nullptr;
    uint64_t value = 0;
    if (handoff == nullptr) { field = "handoff"; rule = "pointer must not be null"; }
    else if (handoff->magic != boot::kHandoffMagic) { field = "magic"; value = handoff->magic; rule = "must be kHandoffMagic"; }
    else if (handoff->version != boot::kHandoffVersion) { field = "version"; value = handoff->version; rule = "must equal the kernel's kHandoffVersion"; }
    else if (handoff->size != sizeof(boot::BootHandoff)) { field = "size"; value = handoff->size; rule = "must equal sizeof(BootHandoff)"; }
    else if (handoff->command_line[boot::kCommandLineCapacity - 1] != '\0') { field = "command_line"; value = boot::kCommandLineCapacity; rule = "must be NUL-terminated"; }
    if (rule == nullptr) return;
    klog::error("handoff").msg("rejected").kv("field", field).kv("value", klog::hex(value)).kv("rule", rule);
    exit_kernel(boot::ExitCode::kFailure);
}

[[noreturn]] void finish_boot() {
    klog::info("kernel").msg("ready").kv("chapter", kChapterName);
    if (command_line().has("hold")) {
        // Tests inspect the finished address space over QMP from here, then quit QEMU.
        klog::info("kernel").msg("holding for monitor");
        x86::halt_forever();
    }
    exit_kernel(boot::ExitCode::kSuccess);
}

}  // namespace

CommandLine command_line() { return CommandLine(g_handoff ? g_handoff->command_line : ""); }

const boot::BootHandoff& boot_handoff() { return *g_handoff; }  // set before kernel_main runs

void relocate_handoff(const boot::BootHandoff* handoff) { g_handoff = handoff; }

}  // namespace kernel

// book:begin kernel-start
extern "C" [[noreturn]] void kernel_start(const boot::BootHandoff* handoff) {
    using namespace kernel;
    console_init();
    install_early_cpu_state();
    enable_cpu_protections();
    run_global_constructors();
    check_handoff_header(handoff);
    g_handoff = handoff;
    start_screen_console(*handoff);  // the log on the GOP framebuffer too
    if (command_line().value("log") == Str("debug")) klog::set_threshold(klog::Level::kDebug);
    warn_unknown_options(command_line());
    kernel_main(*handoff);
    finish_boot();
}
// book:end kernel-start

#include "kernel/early_cpu.h"

#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "kernel/panic.h"
#include "kernel/recovery_point.h"
#include "support/log.h"

namespace kernel {
namespace {

alignas(16) const uint64_t kGdt[] = {kNullDescriptor, kCode64Descriptor, kDataDescriptor};
static_assert(sizeof(uint64_t) * 1 == kKernelCodeSelector && sizeof(uint64_t) * 2 == kKernelDataSelector);

alignas(16) IdtGate g_idt[kExceptionVectors];

TrapHandler g_trap_handler = nullptr;
TrapFixup g_trap_fixup = nullptr;

}  // namespace

const char* exception_name(uint64_t vector) {
    static constexpr const char* kNames[kExceptionVectors] = {
        "divide-error", "debug", "nmi", "breakpoint", "overflow", "bound-range", "invalid-opcode",
        "device-not-available", "double-fault", "coprocessor-overrun", "invalid-tss", "segment-not-present",
        "stack-fault", "general-protection", "page-fault", "reserved-15", "x87-fp", "alignment-check",
        "machine-check", "simd-fp", "virtualization", "control-protection", "reserved-22", "reserved-23",
        "reserved-24", "reserved-25", "reserved-26", "reserved-27", "hypervisor-injection",
        "vmm-communication", "security", "reserved-31"};
    return vector < kExceptionVectors ? kNames[vector] : "unknown";
}

extern "C" const uint64_t early_trap_stubs[kExceptionVectors];  // trap_entry.S

uint64_t trap_stub(unsigned vector) { return early_trap_stubs[vector]; }

TrapHandler set_trap_handler(TrapHandler handler) {
    const TrapHandler previous = g_trap_handler;
    g_trap_handler = handler;
    return previous;
}

TrapFixup set_trap_fixup(TrapFixup fixup) {
    const TrapFixup previous = g_trap_fixup;
    g_trap_fixup = fixup;
    return previous;
}

namespace {

constexpr uint64_t kNmiVector = 2;
constexpr uint16_t kSystemControlPortB = 0x61;  // bit 7: SERR# (PCI), bit 6: IOCHK# (ISA/LPC)

// An NMI is no fault of the code it interrupted: a bus or memory error, a
// watchdog or another CPU raised it, and the interrupted instruction is
// intact. So it is reported and survived: returning lets IRETQ resume that
// instruction and unblock NMIs again. Port 0x61 tells the legacy sources
// apart, as Linux reads it; on a machine with neither bit set the source is
// elsewhere (a watchdog, an IPI) and the line says so with two `no`s. A line
// may land inside another half-written line: an NMI cannot wait for a lock.
void report_nmi(const TrapFrame& frame) {
    const uint8_t port_b = x86::inb(kSystemControlPortB);
    klog::warn("trap").msg("nmi survived").kv("rip", klog::hex(frame.rip))
        .kv("serr", (port_b & 0x80) != 0).kv("iochk", (port_b & 0x40) != 0);
}

}  // namespace

// Returns after an NMI, or when the handler pointed the frame at a recovery
// point; a handler that returns without doing so gets this report, not a
// retry of the faulting instruction.
extern "C" void early_trap(TrapFrame* frame) {
    if (frame->vector == kNmiVector) {
        report_nmi(*frame);
        return;
    }
    if (g_trap_fixup != nullptr && g_trap_fixup(*frame)) return;  // resumes at the fixup
    if (g_trap_handler != nullptr) {
        g_trap_handler(*frame);
        if (frame_resumes_at_recovery_point(*frame)) return;
    }
    klog::Line(klog::Level::kPanic, "trap")
        .msg("unexpected exception")
        .kv("vector", frame->vector)
        .kv("name", exception_name(frame->vector))
        .kv("error", klog::hex(frame->error_code))
        .kv("rip", klog::hex(frame->rip))
        .kv("cr2", klog::hex(x86::read_cr2()))
        .kv("rsp", klog::hex(frame->rsp));
    exit_kernel(boot::ExitCode::kFailure);
}

void load_gdt(const DescriptorTableRegister& gdtr) {
    // Loading GS (and FS) with a selector sets its base to the descriptor's,
    // 0 (SDM Vol. 3A, 3.4.4): chapter 15 keeps each CPU's data at GS's base
    // (IA32_GS_BASE), so keep the base across the reload.
    const uint64_t gs_base = x86::rdmsr(x86::kMsrGsBase);
    // Reload CS with a far return (there is no far jump to an immediate in
    // long mode), then the data segment registers.
    asm volatile(
        "lgdt %0\n\t"
        "pushq %1\n\t"
        "lea 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "mov %2, %%ds\n\t"
        "mov %2, %%es\n\t"
        "mov %2, %%ss\n\t"
        "mov %2, %%fs\n\t"
        "mov %2, %%gs"
        :
        : "m"(gdtr), "i"(kKernelCodeSelector), "r"(uint32_t(kKernelDataSelector))
        : "rax", "memory");
    x86::wrmsr(x86::kMsrGsBase, gs_base);
}

void install_early_cpu_state() {
    load_gdt({sizeof(kGdt) - 1, reinterpret_cast<uint64_t>(kGdt)});
    for (unsigned vector = 0; vector < kExceptionVectors; ++vector) g_idt[vector] = interrupt_gate(trap_stub(vector), 0);
    const DescriptorTableRegister idtr{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(g_idt)};
    asm volatile("lidt %0" : : "m"(idtr) : "memory");
}

}  // namespace kernel

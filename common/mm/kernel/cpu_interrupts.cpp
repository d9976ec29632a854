#include "mm/kernel/cpu_interrupts.h"

#include "arch/x86/io.h"
#include "kernel/early_cpu.h"
#include "support/log.h"

// book:begin ipi-stubs
// The IPI entry stubs. The CPU pushes SS, RSP, RFLAGS, CS, RIP (40 bytes)
// on a stack it first aligned to 16, so after the 9 caller-saved registers
// below RSP is 16-byte aligned again, as the call wants. No error code, no
// IST: an IPI arrives only where IF was set on purpose, on a good stack.
asm(R"(
    .macro IPI_STUB name, handler
    .global \name
\name:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    cld
    call \handler
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    iretq
    .endm

    .text
    IPI_STUB smp_shootdown_stub, smp_shootdown_interrupt
    IPI_STUB smp_wake_stub, smp_wake_interrupt
    .global smp_spurious_stub
smp_spurious_stub:
    iretq                           /* no EOI for the spurious vector */
)");
// book:end ipi-stubs

extern "C" void smp_shootdown_stub(), smp_wake_stub(), smp_spurious_stub();

namespace mm {
namespace {

LocalApic g_apic;
alignas(16) kernel::IdtGate g_idt[256];
constexpr uint16_t kPic1Data = 0x21, kPic2Data = 0xA1;

uint64_t address(void (*stub)()) { return reinterpret_cast<uint64_t>(stub); }

}  // namespace

void install_interrupt_gates(const LocalApic& apic) {
    g_apic = apic;
    kernel::DescriptorTableRegister live{};
    asm volatile("sidt %0" : "=m"(live));
    const auto* exceptions = reinterpret_cast<const kernel::IdtGate*>(live.base);
    const unsigned copied = unsigned((live.limit + 1) / sizeof(kernel::IdtGate));
    KASSERT(copied == kernel::kExceptionVectors);
    for (unsigned v = 0; v < copied; ++v) g_idt[v] = exceptions[v];
    g_idt[kShootdownVector] = kernel::interrupt_gate(address(smp_shootdown_stub), 0);
    g_idt[kWakeVector] = kernel::interrupt_gate(address(smp_wake_stub), 0);
    g_idt[kSpuriousVector] = kernel::interrupt_gate(address(smp_spurious_stub), 0);
    x86::outb(kPic1Data, 0xFF);
    x86::outb(kPic2Data, 0xFF);
    load_interrupt_gates();
    klog::info("smp").msg("idt").kv("vectors", uint64_t(256)).kv("exceptions", uint64_t(copied))
        .kv("shootdown", klog::hex(kShootdownVector)).kv("wake", klog::hex(kWakeVector))
        .kv("spurious", klog::hex(kSpuriousVector)).kv("pic", "masked");
}

void load_interrupt_gates() {
    const kernel::DescriptorTableRegister idtr{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(g_idt)};
    asm volatile("lidt %0" : : "m"(idtr) : "memory");
}

}  // namespace mm

extern "C" void smp_shootdown_interrupt() {
    mm::handle_shootdown_ipi();
    mm::g_apic.eoi();
}

// The wake IPI only ends the HLT of the idle loop, which then reads the mailbox.
extern "C" void smp_wake_interrupt() { mm::g_apic.eoi(); }

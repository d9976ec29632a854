#include "early_cpu.h"

#include "arch/x86/cpu.h"
#include "panic.h"
#include "support/log.h"

namespace kernel {
namespace {

// Segment descriptors (SDM Vol. 3A, 3.4.5). In long mode only the L, P, DPL and
// type bits of a code segment matter; base and limit are ignored.
// The type's Accessed bit is preset (0x9B, 0x93): otherwise the CPU sets it
// itself when a selector is loaded, a write that faults because this GDT sits
// in read-only .rodata, where nothing can overwrite it by accident either.
constexpr uint64_t kNullDescriptor = 0;
constexpr uint64_t kCode64Descriptor = 0x00AF'9B00'0000'FFFFull;  // P, DPL0, code exec/read, accessed, L=1
constexpr uint64_t kDataDescriptor = 0x00CF'9300'0000'FFFFull;    // P, DPL0, data read/write, accessed

alignas(16) const uint64_t kGdt[] = {kNullDescriptor, kCode64Descriptor, kDataDescriptor};
static_assert(sizeof(uint64_t) * 1 == kKernelCodeSelector && sizeof(uint64_t) * 2 == kKernelDataSelector);

// An interrupt gate (SDM Vol. 3A, 6.14.1): handler address split in three.
struct IdtGate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attributes;  // 0x8E: present, DPL0, 64-bit interrupt gate
    uint16_t offset_middle;
    uint32_t offset_high;
    uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16);

constexpr unsigned kExceptionVectors = 32;
alignas(16) IdtGate g_idt[kExceptionVectors];

struct [[gnu::packed]] DescriptorTableRegister {
    uint16_t limit;
    uint64_t base;
};

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

}  // namespace

// What trap_entry.S pushes: the general registers, then vector and error code,
// then what the CPU pushed.
struct TrapFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

extern "C" const uint64_t early_trap_stubs[kExceptionVectors];  // trap_entry.S

extern "C" [[noreturn]] void early_trap(const TrapFrame* frame) {
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

void install_early_cpu_state() {
    const DescriptorTableRegister gdtr{sizeof(kGdt) - 1, reinterpret_cast<uint64_t>(kGdt)};
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

    for (unsigned vector = 0; vector < kExceptionVectors; ++vector) {
        const uint64_t handler = early_trap_stubs[vector];
        g_idt[vector] = {uint16_t(handler), kKernelCodeSelector, 0, 0x8E, uint16_t(handler >> 16),
                         uint32_t(handler >> 32), 0};
    }
    const DescriptorTableRegister idtr{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(g_idt)};
    asm volatile("lidt %0" : : "m"(idtr) : "memory");
}

}  // namespace kernel

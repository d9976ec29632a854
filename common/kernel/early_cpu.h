// The kernel's own GDT and a catch-all IDT, installed before anything else.
//
// The firmware's GDT and IDT live in boot-services memory that the kernel will
// reclaim, and the firmware's exception handlers print a dump and spin forever.
// So the kernel loads a GDT of its own (null, 64-bit code, data) and an IDT
// whose 32 exception vectors all report the fault (vector, error code, RIP,
// CR2) and exit with the failure code: a bug never hangs and never triple-faults
// silently. Chapter 10 replaces both: a GDT with a TSS, an IDT whose gates
// switch to IST stacks, and decoded reports behind the same entry stubs.
#pragma once

#include <stdint.h>

namespace kernel {

inline constexpr uint16_t kKernelCodeSelector = 0x08;
inline constexpr uint16_t kKernelDataSelector = 0x10;
inline constexpr unsigned kExceptionVectors = 32;

// Segment descriptors (SDM Vol. 3A, 3.4.5). In long mode only the L, P, DPL and
// type bits of a code segment matter; base and limit are ignored.
// The type's Accessed bit is preset (0x9B, 0x93): otherwise the CPU sets it
// itself when a selector is loaded, a write that faults when the GDT sits in
// read-only memory, where nothing can overwrite it by accident either.
inline constexpr uint64_t kNullDescriptor = 0;
inline constexpr uint64_t kCode64Descriptor = 0x00AF'9B00'0000'FFFFull;  // P, DPL0, code exec/read, accessed, L=1
inline constexpr uint64_t kDataDescriptor = 0x00CF'9300'0000'FFFFull;    // P, DPL0, data read/write, accessed

// What LGDT and LIDT take.
struct [[gnu::packed]] DescriptorTableRegister {
    uint16_t limit;  // size in bytes - 1
    uint64_t base;
};

// An interrupt gate (SDM Vol. 3A, 6.14.1): handler address split in three,
// and the IST slot whose stack the CPU switches to (0: stay on this stack).
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

inline constexpr uint8_t kInterruptGatePresent = 0x8E;

constexpr IdtGate interrupt_gate(uint64_t handler, uint8_t ist) {
    return {uint16_t(handler), kKernelCodeSelector, ist, kInterruptGatePresent, uint16_t(handler >> 16),
            uint32_t(handler >> 32), 0};
}

// What trap_entry.S pushes: the general registers, then vector and error code,
// then what the CPU pushed.
struct TrapFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

void install_early_cpu_state();

// Loads a GDT whose entries 1 and 2 are kCode64Descriptor and kDataDescriptor
// and reloads CS, SS and the data segment registers from it.
void load_gdt(const DescriptorTableRegister& gdtr);

// The entry stub of `vector` (trap_entry.S): what every IDT gate points at.
uint64_t trap_stub(unsigned vector);

// "page-fault", "double-fault", …: the SDM's name of an exception vector.
const char* exception_name(uint64_t vector);

// The function every stub ends in. Until one is installed, the early report
// above. It ends the kernel, or returns after pointing the frame at a
// recovery point (recovery_point.h).
using TrapHandler = void (*)(TrapFrame& frame);
// Returns the handler it replaces, for a handler that adds cases in front of
// another and passes it the rest (chapter 12's user faults, mm/kernel/user_faults.h).
TrapHandler set_trap_handler(TrapHandler handler);

// The exception table's hook (chapter 12, kernel/user_mode.h): asked first,
// before any handler, whether the fault is one a fixup expects (a copy from a
// user pointer that faulted). When it says yes it has pointed the frame at
// the fixup, or made the access possible (chapter 13 maps a page on first
// touch, and hands the rest to chapter 12's table), and the stub returns
// there with no report. None until installed. Returns the hook it replaces,
// for the new one to pass on what it does not handle (chapter 14's
// copy-on-write faults go in front of chapter 13's first touch).
using TrapFixup = bool (*)(TrapFrame& frame);
TrapFixup set_trap_fixup(TrapFixup fixup);

}  // namespace kernel

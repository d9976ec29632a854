#include "kernel/exception_tables.h"

#include "kernel/early_cpu.h"
#include "support/assert.h"
#include "support/log.h"

namespace kernel {
namespace {

// book:begin gdt
// The TSS descriptor is 16 bytes in 64-bit mode (SDM Vol. 3A, 7.2.3, Figure
// 7-4): base bits 0-31 and limit as in any descriptor, type 9 (an available
// 64-bit TSS), then base bits 32-63 in the next 8 bytes.
constexpr uint64_t kTssAvailable = 0x9, kTssBusy = 0xB, kDescriptorPresent = 1ull << 47;

}  // namespace

TssDescriptor tss_descriptor(uint64_t base, uint32_t limit) {
    return {(limit & 0xFFFF) | (base & 0xFF'FFFF) << 16 | kTssAvailable << 40 | kDescriptorPresent |
                uint64_t((limit >> 16) & 0xF) << 48 | ((base >> 24) & 0xFF) << 56,
            base >> 32};
}

namespace {

constexpr uint16_t kTssSelector = 0x18;  // entries 3 and 4

// In .data, not .rodata: LTR writes the descriptor it loads, setting the
// type's busy bit (9 -> 0xB), and refuses a descriptor that is busy already,
// so the GDT cannot be read-only when TR is loaded. (The code and data
// descriptors have their accessed bits preset, so nothing else writes here.)
alignas(16) uint64_t g_gdt[5] = {kNullDescriptor, kCode64Descriptor, kDataDescriptor, 0, 0};
static_assert(sizeof(uint64_t) * 3 == kTssSelector);
// book:end gdt

alignas(16) TaskStateSegment g_tss;
alignas(16) IdtGate g_idt[kExceptionVectors];

uint8_t ist_of(const IstStacks& stacks, unsigned vector) {
    for (size_t i = 0; i < stacks.count; ++i)
        if (stacks.stack[i].vector == vector) return stacks.stack[i].ist;
    return 0;
}

}  // namespace

// book:begin install
void install_exception_tables(const IstStacks& stacks) {
    // The TSS: each IST slot holds the top of its stack (the CPU aligns RSP
    // down to 16 bytes and pushes below it).
    g_tss = {};
    for (size_t i = 0; i < stacks.count; ++i) {
        const IstStack& s = stacks.stack[i];
        KASSERT(s.ist >= 1 && s.ist <= 7 && g_tss.ist[s.ist - 1] == 0);
        g_tss.ist[s.ist - 1] = s.top;
    }
    g_tss.io_map_base = sizeof(TaskStateSegment);
    const TssDescriptor tss = tss_descriptor(reinterpret_cast<uint64_t>(&g_tss), sizeof(g_tss) - 1);
    g_gdt[3] = tss.low;
    g_gdt[4] = tss.high;
    load_gdt({sizeof(g_gdt) - 1, reinterpret_cast<uint64_t>(g_gdt)});
    asm volatile("ltr %0" : : "r"(kTssSelector) : "memory");

    // Every vector to its stub; #DF, #PF, NMI and #MC on their own stacks.
    for (unsigned vector = 0; vector < kExceptionVectors; ++vector)
        g_idt[vector] = interrupt_gate(trap_stub(vector), ist_of(stacks, vector));
    const DescriptorTableRegister idtr{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(g_idt)};
    asm volatile("lidt %0" : : "m"(idtr) : "memory");
    // book:end install

    klog::info("cpu").msg("gdt").kv("base", klog::hex(reinterpret_cast<uint64_t>(g_gdt)))
        .kv("limit", klog::hex(sizeof(g_gdt) - 1)).kv("entries", uint64_t(5)).kv("tss-selector", klog::hex(kTssSelector));
    {
        klog::Line line = klog::info("cpu");
        line.msg("tss").kv("base", klog::hex(reinterpret_cast<uint64_t>(&g_tss))).kv("limit", klog::hex(sizeof(g_tss) - 1));
        static constexpr const char* kSlots[] = {"ist1", "ist2", "ist3", "ist4", "ist5", "ist6", "ist7"};
        for (size_t i = 0; i < 7; ++i)
            if (g_tss.ist[i] != 0) line.kv(kSlots[i], klog::hex(g_tss.ist[i]));
        line.kv("io-map-base", klog::hex(g_tss.io_map_base));
    }
    // What LTR did to the descriptor: type 9 (available) became 0xB (busy).
    uint16_t tr = 0;
    asm volatile("str %0" : "=r"(tr));
    const uint64_t type = (g_gdt[tr >> 3] >> 40) & 0xF;
    klog::info("cpu").msg("tr").kv("selector", klog::hex(tr)).kv("type", klog::hex(type)).kv("busy", type == kTssBusy);
    klog::info("cpu").msg("idt").kv("base", klog::hex(idtr.base)).kv("limit", klog::hex(idtr.limit))
        .kv("vectors", uint64_t(kExceptionVectors));
    for (size_t i = 0; i < stacks.count; ++i) {
        const IstStack& s = stacks.stack[i];
        klog::info("cpu").msg("ist").kv("slot", uint64_t(s.ist)).kv("stack", s.name).kv("vector", uint64_t(s.vector))
            .kv("name", exception_name(s.vector)).kv("top", klog::hex(s.top)).kv("guard", klog::hex(s.guard));
    }
}

void remove_idt_gate(uint8_t vector) {
    klog::warn("cpu").msg("removing an idt gate on request").kv("vector", uint64_t(vector))
        .kv("name", exception_name(vector));
    g_idt[vector].type_attributes &= uint8_t(~0x80);  // P = 0
}

// At offset 4 of a packed struct, so not 8-byte aligned: only a MOV writes it,
// which does not mind (user_mode.cpp).
uint64_t* rsp0_slot(TaskStateSegment& tss) {
    return reinterpret_cast<uint64_t*>(reinterpret_cast<char*>(&tss) + __builtin_offsetof(TaskStateSegment, rsp));
}

uint64_t* boot_cpu_rsp0_slot() { return rsp0_slot(g_tss); }

namespace {
Rsp0SlotSource g_rsp0_slot_source = boot_cpu_rsp0_slot;
}  // namespace

void set_rsp0_slot_source(Rsp0SlotSource source) { g_rsp0_slot_source = source; }

uint64_t* tss_rsp0_slot() { return g_rsp0_slot_source(); }

void restore_idt_gate(uint8_t vector) {
    g_idt[vector].type_attributes |= 0x80;  // P = 1; the CPU reads gates at delivery, so no reload is needed
    klog::info("cpu").msg("idt gate restored").kv("vector", uint64_t(vector)).kv("name", exception_name(vector));
}

}  // namespace kernel

#include "mm/kernel/per_cpu.h"

#include "arch/x86/cpu.h"
#include "kernel/early_cpu.h"
#include "kernel/exception_tables.h"
#include "kernel/user_mode.h"
#include "mm/madt_cpus.h"

namespace mm {
namespace {

PerCpu g_cpus[acpi::MadtCpus::kCapacity];
static_assert(acpi::MadtCpus::kCapacity <= CpuMask::kMaxCpus);

constexpr uint16_t kTssSelector = 0x18;  // entries 3 and 4, as in chapter 10's GDT
constexpr uint64_t kTssAvailable = 0x9, kDescriptorPresent = 1ull << 47;
static_assert(sizeof(PerCpu::gdt) == kernel::kUserCodeSelector / 8 * 8 + 8, "the user code segment is the last entry");

// RSP0 sits at offset 4 of the packed TSS: a pointer to it, not a reference.
uint64_t* rsp0_slot(PerCpu& cpu) {
    return reinterpret_cast<uint64_t*>(reinterpret_cast<char*>(&cpu.tss) + __builtin_offsetof(CpuTss, rsp));
}

}  // namespace

PerCpu& per_cpu(unsigned index) {
    KASSERT(index < acpi::MadtCpus::kCapacity);
    return g_cpus[index];
}

// book:begin cpu-tables
void build_cpu_tables(PerCpu& cpu, const uint64_t (&ist_tops)[7]) {
    cpu.self = &cpu;
    cpu.tss = {};
    for (unsigned i = 0; i < 7; ++i) cpu.tss.ist[i] = ist_tops[i];
    cpu.tss.io_map_base = sizeof(CpuTss);
    // The TSS descriptor (SDM Vol. 3A, 7.2.3, Figure 7-4): 16 bytes, type 9.
    const uint64_t base = reinterpret_cast<uint64_t>(&cpu.tss), limit = sizeof(CpuTss) - 1;
    cpu.gdt[0] = kernel::kNullDescriptor;
    cpu.gdt[1] = kernel::kCode64Descriptor;
    cpu.gdt[2] = kernel::kDataDescriptor;
    cpu.gdt[3] = (limit & 0xFFFF) | (base & 0xFF'FFFF) << 16 | kTssAvailable << 40 | kDescriptorPresent |
                 ((limit >> 16) & 0xF) << 48 | ((base >> 24) & 0xFF) << 56;
    cpu.gdt[4] = base >> 32;
    kernel::fill_user_segments(cpu.gdt);  // as chapter 12 fills the BSP's
}

void load_cpu_tables(PerCpu& cpu) {
    kernel::load_gdt({sizeof(cpu.gdt) - 1, reinterpret_cast<uint64_t>(cpu.gdt)});  // keeps GS's base, whatever it is ...
    asm volatile("ltr %0" : : "r"(kTssSelector) : "memory");
    set_gs_base(cpu);                                                             // ... so set it after
}
// book:end cpu-tables

void set_gs_base(PerCpu& cpu) {
    cpu.self = &cpu;
    x86::wrmsr(x86::kMsrGsBase, reinterpret_cast<uint64_t>(&cpu));
}

uint64_t* this_cpu_rsp0_slot() {
    PerCpu& cpu = *this_cpu();
    return cpu.index == 0 ? kernel::boot_cpu_rsp0_slot() : rsp0_slot(cpu);
}

}  // namespace mm

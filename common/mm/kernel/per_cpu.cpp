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
static_assert(sizeof(PerCpu::gdt) == kernel::kUserCodeSelector / 8 * 8 + 8, "the user code segment is the last entry");

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
    cpu.tss.io_map_base = sizeof(cpu.tss);
    const kernel::TssDescriptor tss = kernel::tss_descriptor(reinterpret_cast<uint64_t>(&cpu.tss), sizeof(cpu.tss) - 1);
    cpu.gdt[0] = kernel::kNullDescriptor;
    cpu.gdt[1] = kernel::kCode64Descriptor;
    cpu.gdt[2] = kernel::kDataDescriptor;
    cpu.gdt[3] = tss.low;  // the TSS descriptor takes two entries, as in chapter 10's GDT
    cpu.gdt[4] = tss.high;
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
    return cpu.index == 0 ? kernel::boot_cpu_rsp0_slot() : kernel::rsp0_slot(cpu.tss);
}

}  // namespace mm

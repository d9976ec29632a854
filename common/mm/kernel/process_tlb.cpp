#include "mm/kernel/process_tlb.h"

#include "arch/x86/cpu.h"
#include "support/assert.h"

namespace mm {
namespace {

OtherCpuTlbs* g_others = nullptr;

}  // namespace

void set_other_cpu_tlbs(OtherCpuTlbs* others) { g_others = others; }

void ProcessTlb::invalidate_page(VirtAddr page) {
    asm volatile("invlpg (%0)" : : "r"(page.value()) : "memory");  // this CPU only (SDM Vol. 3A, 4.10.4.1)
    ++invalidations_;
    if (g_others != nullptr) g_others->invalidate(*this, page);
}

void ProcessTlb::unload_everywhere() {
    if (g_others != nullptr) g_others->unload(*this);
    KASSERT(cpus_.loaded().empty());  // one CPU: the scheduler loaded the kernel's tables before the exit ran
}

}  // namespace mm

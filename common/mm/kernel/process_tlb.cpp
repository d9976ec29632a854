#include "mm/kernel/process_tlb.h"

#include "support/assert.h"

namespace mm {
namespace {

OtherCpuTlbs* g_others = nullptr;

}  // namespace

void set_other_cpu_tlbs(OtherCpuTlbs* others) { g_others = others; }

void ProcessTlb::invalidate_page(VirtAddr page) {
    here_.invalidate_page(page);  // INVLPG: this CPU's TLB only
    if (g_others != nullptr) g_others->invalidate(*this, page);
}

void ProcessTlb::unload_everywhere() {
    if (g_others != nullptr) g_others->unload(*this);
    KASSERT(cpus_.loaded().empty());  // one CPU: the scheduler loaded the kernel's tables before the exit ran
}

}  // namespace mm

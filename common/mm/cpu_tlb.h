// CpuTlb: the kernel's TlbInvalidator, one INVLPG per page.
//
// Kernel only, like read_cpu_paging_features(): host tests and fuzz targets
// never call it, they pass a recorder (tests/host/temporary_window_test.cpp).
#pragma once

#include <stdint.h>

#include "mm/tlb_flush.h"

namespace mm {

// book:begin cpu-tlb
class CpuTlb final : public TlbInvalidator {
public:
    // INVLPG m (SDM Vol. 2A, INVLPG): invalidates the TLB entries for the
    // page that holds the linear address m and, for the current PCID, *all*
    // paging-structure-cache entries, on this CPU only (SDM Vol. 3A,
    // 4.10.4.1). "memory": the page-table write before it must not be moved
    // past it.
    void invalidate_page(VirtAddr page) override {
        asm volatile("invlpg (%0)" : : "r"(page.value()) : "memory");
        ++invalidations_;
    }

    // How many INVLPGs this object executed: for the boot log.
    uint64_t invalidations() const { return invalidations_; }

private:
    uint64_t invalidations_ = 0;
};
// book:end cpu-tlb

}  // namespace mm

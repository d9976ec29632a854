// ProcessTlb: every TLB that may hold a process's translations (chapter 13
// on).
//
// munmap, mprotect, the copy-on-write fault and fork's write-protection
// change a live process's leaves and flush their tokens into its ProcessTlb.
// It executes INVLPG on this CPU, where the process runs. With one CPU
// (chapters 13 and 14) that is the whole flush: the scheduler loads another
// CR3 when another process runs, which drops every user translation (none
// is global). From chapter 15 on a process runs on any CPU, and an idle CPU
// keeps the last process's tables loaded — its TLB too — until it runs
// something else; those CPUs are in `cpus()`, and the other-CPU half that
// chapter 15 installs (set_other_cpu_tlbs) reaches them before flush()
// returns, so no frame is given back while one of them can still reach it.
#pragma once

#include <stdint.h>

#include "mm/cpu_mask.h"
#include "mm/cpu_tlb.h"
#include "mm/tlb_flush.h"

namespace mm {

class ProcessTlb;

// The CPUs other than this one (chapter 15, kernel/process_cpus.h).
class OtherCpuTlbs {
public:
    // `page` of `tlb`'s process changed: returns once no other CPU holds a
    // translation of it.
    virtual void invalidate(ProcessTlb& tlb, VirtAddr page) = 0;
    // The process's tables go back: returns once no CPU, this one included,
    // has them loaded.
    virtual void unload(ProcessTlb& tlb) = 0;

protected:
    ~OtherCpuTlbs() = default;
};

// book:begin process-tlb
class ProcessTlb final : public TlbInvalidator {
public:
    // INVLPG here, for the running process; then every other CPU that has
    // its tables loaded, if there are others.
    void invalidate_page(VirtAddr page) override;

    // Before the tables go back (exit): no CPU may keep them in CR3, or it
    // could walk freed frames.
    void unload_everywhere();

    // The CPUs that have this process's tables loaded (chapter 15 keeps them).
    LoadedCpus& cpus() { return cpus_; }
    // How many INVLPGs this CPU executed for the process: for the boot log.
    uint64_t invalidations() const { return here_.invalidations(); }

private:
    CpuTlb here_;
    LoadedCpus cpus_;
};
// book:end process-tlb

// Chapter 15 installs its CPUs; until then (chapters 13 and 14) there are none.
void set_other_cpu_tlbs(OtherCpuTlbs* others);

}  // namespace mm

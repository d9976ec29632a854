// The paging depth the kernel starts in: four levels, or five when its
// command line asks (`paging=5`, chapter 16) and the CPU has LA57.
//
// The bootstrap tables are 4-level (bootstrap_mappings.h). Five levels need
// a PML5 on top, and one page is enough: every address those tables map is
// canonical at 48 bits, so it has the same value at 57 bits, and its PML5
// index is 0 (the identity half) or 511 (the kernel at -2 GiB). A PML5 whose
// entries 0 and 511 both name the bootstrap PML4 therefore translates every
// one of those addresses exactly as the PML4 alone does at four levels. The
// handover trampoline turns CR4.LA57 on with paging off on the way into the
// kernel (handover_trampoline.h); the kernel reads CR4.LA57 to know.
#pragma once

#include <stdint.h>

#include "boot/efi.h"
#include "boot/bootstrap_paging.h"
#include "support/command_line.h"

namespace boot {

struct PagingHandover {
    uint64_t top_table = 0;  // what the trampoline loads into CR3: the bootstrap PML4, or the PML5 over it
    bool la57 = false;       // CR4.LA57 on the way into the kernel
};

// Before ExitBootServices: reads `paging=` from the kernel's command line,
// logs the choice when it was asked for
//   [INFO  loader] paging levels=5 asked=5 cpu-la57=yes top=0x…
//   [INFO  loader] paging levels=4 asked=5 why=cpu-has-no-la57
// and takes the PML5's page (below 4 GiB, boot-page-tables memory) when five
// levels are handed over. A value other than 4 or 5 fails the boot by name.
PagingHandover choose_paging_handover(EFI_HANDLE image, CommandLine command_line, const BootstrapTables& tables,
                                      uint32_t kernel_levels);

}  // namespace boot

// The loader's bootstrap page tables: just enough for the kernel to start.
// What they map, and why only the handover trampoline's page is executable in
// the identity half, is bootstrap_mappings.h; this file takes the table pages from the
// firmware and logs the result. The kernel replaces these tables with its own
// from chapter 04 on and never trusts them beyond that.
#pragma once

#include <stdint.h>

#include "boot/efi.h"
#include "boot/handover_trampoline.h"
#include "boot/kernel_image.h"

namespace boot {

struct BootstrapTables {
    uint64_t pml4;  // physical address for CR3
    uint64_t identity_top;  // first address not identity-mapped
    uint64_t table_pages;  // how many kBootPageTables pages were used
};

// `identity_top` comes from identity_top() (identity_extent.h). Tables are
// kBootPageTables pages below 4 GiB; a mapping the builder refuses fails the
// boot by name.
BootstrapTables build_bootstrap_tables(EFI_HANDLE image, uint64_t identity_top, const LoadedKernel& kernel,
                                       const HandoverTrampoline& trampoline);

}  // namespace boot

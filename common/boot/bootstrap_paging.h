// The loader's bootstrap page tables: just enough for the kernel to start.
//
//   virtual                          physical              flags
//   0 .. identity_top                same                  RW, 2 MiB pages
//   kernel PT_LOAD segments          the loaded image      from the ELF: RX / R+NX / RW+NX, 4 KiB pages
//
// The identity half must stay executable: the instruction after `mov cr3` is
// still fetched from the loader's own (identity) address. The kernel replaces
// these tables with its own from chapter 04 on and never trusts them beyond that.
#pragma once

#include <stdint.h>

#include "boot/efi.h"
#include "boot/kernel_image.h"

namespace boot {

struct BootstrapTables {
    uint64_t pml4;  // physical address for CR3
    uint64_t identity_top;  // first address not identity-mapped
    uint64_t table_pages;  // how many kBootPageTables pages were used
};

// `identity_top` is rounded up to 1 GiB. Tables are kBootPageTables pages.
BootstrapTables build_bootstrap_tables(EFI_HANDLE image, uint64_t identity_top, const LoadedKernel& kernel);

}  // namespace boot

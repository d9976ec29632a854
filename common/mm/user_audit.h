// The audit of a process's address space (chapter 12): chapter 09's walk,
// with the rules that user pages bring. Run on the process's PML4 before the
// kernel enters the program, so a mistake in building it is refused by name
// instead of being found by the program.
//
//   every user-accessible page (U/S at every level) lies in [kUserLowest, kUserLimit)
//   no kernel-half page is user-accessible
//   no page is writable and executable (effective rights, all levels)
//   user pages are 4 KiB
//
// A PageTableVisitor over PageTableWalker, like the audit of chapter 09, so
// the host tests run it over a fake physical memory.
#pragma once

#include <stdint.h>

#include "mm/page_table_walker.h"

namespace mm {

struct [[nodiscard]] UserAudit {
    uint64_t user_pages = 0;    // user-accessible leaves, all in the lower half when ok
    uint64_t kernel_pages = 0;  // leaves of the upper half
    uint64_t outside = 0;       // user leaves below kUserLowest or at/above kUserLimit
    uint64_t kernel_user = 0;   // upper-half leaves that are user-accessible
    uint64_t wx = 0;            // leaves writable and executable
    uint64_t huge_user = 0;     // user leaves larger than 4 KiB
    VirtAddr first_bad;         // the first leaf that broke a rule

    bool ok() const { return outside == 0 && kernel_user == 0 && wx == 0 && huge_user == 0; }
};

// Walks every table reachable from the walker's PML4 (the kernel half too:
// its entries are shared, and a user bit there would reach every process).
UserAudit audit_user_space(PageTableWalker& walker);

}  // namespace mm

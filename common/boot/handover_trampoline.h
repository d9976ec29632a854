// The loader's last page: where the machine leaves the firmware's page
// tables for the bootstrap tables and jumps into the kernel.
//
// Why a page of its own. The instruction after `mov cr3` is fetched through
// the new tables, so whatever page holds it must be executable there. Making
// that page a trampoline instead of the loader's whole text keeps the
// bootstrap identity map non-executable except for this one page.
//
// Why two pages. The code page is made read-only and executable in the
// firmware's tables (memory_attributes.h: firmware may map new pages NX), so
// what the trampoline writes (its parameters) and reads as data (the GDT) is
// on a page of its own, writable and NX everywhere.
//
// Why below 4 GiB, in 32-bit code. A firmware may leave 5-level paging on
// (CR4.LA57: some servers do, and OVMF since 2024 on large guests) while the
// bootstrap tables are 4-level. CR4.LA57 cannot change while paging is on
// (SDM Vol. 3A, 4.1.2 "Paging-Mode Enabling"), and paging can only be turned
// off from 32-bit code (SDM Vol. 3A, 9.8.5.4 "Switching Out of IA-32e Mode
// Operation"), so that code, the GDT it runs on and the new top-level table
// must all lie below 4 GiB, identity-mapped. Linux's trampoline_32bit makes
// the same trip. On the usual machine, whose paging depth already matches,
// the trampoline is one CR3 load, a global flush and a jump.
//
// The code page is EfiLoaderCode, which the kernel never counts free
// (mm/memory_ranges.cpp), so no kernel on the bootstrap tables hands out the
// one frame they map executable; the data page is boot-page-tables memory,
// loader-owned too.
#pragma once

#include <stdint.h>

#include "boot/efi.h"
#include "boot/handoff.h"

namespace boot {

struct HandoverTrampoline {
    uint64_t page;       // the code: physical = virtual in every table it runs on
    uint64_t data_page;  // its GDT and parameters
};

// Allocates both pages below 4 GiB and fills them: the code, then a GDT with
// 32- and 64-bit code segments and the parameter block; makes the code page
// read-only and executable. Before ExitBootServices.
HandoverTrampoline install_handover_trampoline(EFI_HANDLE image);

// Switches to `top_table` (a PML4, or a PML5 when `la57`), changing the
// paging depth on the way if it differs, and returns to the caller. The
// caller's code, stack and data must be mapped alike in both; only the
// loader's test hook that imitates 5-level firmware (la57_imitation.h) uses
// it, after ExitBootServices: it returns with interrupts off.
void switch_paging(const HandoverTrampoline& trampoline, uint64_t top_table, bool la57);

// Switches to the bootstrap tables (`top_table`: their PML4, or with `la57`
// a PML5 over it, paging_handover.h) and jumps to `entry` with the
// handoff in RDI and RSP = stack_top - 8 (what a `call` would leave: the
// SysV ABI has rsp+8 16-byte aligned at a function's first instruction).
[[noreturn]] void jump_through(const HandoverTrampoline& trampoline, uint64_t top_table, bool la57, uint64_t stack_top,
                               uint64_t entry, const BootHandoff* handoff);

}  // namespace boot

// The AP trampoline: where an application processor (AP) starts, and how
// it gets from real mode to the kernel (chapter 15).
//
// A start-up IPI starts the AP in real mode at CS:IP = vector << 8 : 0, that
// is at the physical page vector * 4 KiB below 1 MiB (SDM Vol. 3A, 8.4.4,
// 10.6.1). So the first instructions must sit in such a page, and they must
// do, on the AP, what the firmware and the loader did on the BSP:
//
//   real mode     load a GDT (in the page), set CR0.PE, far jump      stage 1
//   protected     CR4.PAE (and LA57), CR3 = the trampoline's PML4 (or
//                 PML5), EFER.LME and EFER.NXE, CR0.PG: far jump
//                 into a 64-bit segment                               stage 2
//   long mode     load RSP and the PerCpu pointer, jump to ap_entry
//                 in the kernel's text, at its higher-half address
//   ap_entry      the kernel's CR3, CR0/CR4/EFER/PAT as on the BSP,   entered, then
//                 its own GDT/TSS, the IDT, GS base, its APIC         online (PerCpu)
//
// (SDM Vol. 3A, 9.8.5 "Initializing IA-32e Mode".) Two constraints shape
// the tables the AP enables paging on. MOV to CR3 in 32-bit mode takes 32
// bits, so the root (the PML4, or the PML5 at five levels) must lie below 4
// GiB; and the instruction after the one that sets CR0.PG is fetched at the
// same address, now translated, so the trampoline page must be
// identity-mapped. The kernel's own tables have no lower half since chapter
// 08, so the trampoline gets a PML4 of its own: slot 0 leads to the one
// identity-mapped trampoline page, slots 256-511 are copies of the kernel's
// (which share_kernel_half() made complete, so every kernel mapping added
// later is seen through them). ap_entry then loads the kernel's CR3 and
// never uses the trampoline's tables again.
//
// At five levels (chapter 16: the BSP runs with CR4.LA57) the AP must get
// there too, and CR4.LA57 can change only while paging is off (SDM Vol. 3A,
// 4.1.2): the 32-bit code sets it with PAE, before CR0.PG, and CR3 gets a
// fifth table, a PML5 (also below 4 GiB), whose entry 0 leads to the
// identity PML4 and whose upper half is the kernel's PML5's. ap_entry's
// copy of the BSP's CR4 then leaves LA57 as it already is.
//
// Which memory, and from which allocator: the boot frame allocator
// (chapter 03) never hands out a frame below 1 MiB — kept free for exactly
// this — and neither does chapter 11's bitmap, so the trampoline page is
// taken straight from the memory map's usable RAM below 1 MiB (the highest
// such page), and recorded here as the trampoline's. Its four table frames
// (PML4, PDPT, PD, PT; a fifth, the PML5, at five levels) come from the
// boot allocator before the handover:
// it bump-allocates upward from 1 MiB, so they lie below 4 GiB (checked),
// and the handover counts them as used. Both happen first thing, before
// any other allocation can take what the trampoline needs.
#pragma once

#include <stdint.h>

#include "mm/kernel/boot_intake.h"
#include "mm/paging_depth.h"
#include "mm/phys_addr.h"

namespace mm {

struct Trampoline {
    PhysAddr page;                      // below 1 MiB: the SIPI's vector is page / 4 KiB
    PhysAddr pml4, pdpt, pd, pt;        // the trampoline's tables; at four levels the PML4 is the root, below 4 GiB
    PhysAddr pml5;                      // five levels only (chapter 16): over the PML4, below 4 GiB
    PagingDepth depth = PagingDepth::kFourLevel;  // the BSP's (CR4.LA57) when reserved
    const char* refusal = nullptr;      // why there is none (then page is null)
};

// First thing in kernel_main: the page and the tables' frames, logged:
//   [INFO  smp] trampoline reserved page=0x… pml4=0x… page-from=… tables-from=… levels=4
// (and pml5=0x… at five levels).
// With no usable page below 1 MiB, or a table frame at or above 4 GiB,
// logs the refusal (WARN) and returns a trampoline whose page is null: the
// boot goes on with the BSP alone.
Trampoline reserve_trampoline(BootIntake& intake);

// Copies the trampoline code into its page and builds its tables from the
// kernel's root table, its PML4 or PML5 (after share_kernel_half). Through
// the phys-offset window.
void install_trampoline(const Trampoline& t, PhysAddr kernel_root);

// What the next AP to start needs: its stack, its PerCpu, the kernel entry.
void arm_trampoline(const Trampoline& t, uint64_t stack_top, uint64_t per_cpu);

// How far the last AP got in the page: 0 (never ran), 1 real mode,
// 2 protected mode (PerCpu says whether it reached ap_entry).
uint32_t trampoline_stage(const Trampoline& t);

// After the last AP: the identity entry is cleared, so no table maps the
// trampoline page executable any more (it stays RW+NX in the phys window),
// and a walk of the trampoline's tables says so:
//   [INFO  smp] trampoline retired page=0x… identity=absent levels=4
void retire_trampoline(const Trampoline& t);

}  // namespace mm

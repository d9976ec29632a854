// Where things lie in the handover trampoline's two pages (handover_trampoline.h):
// the code page holds only the code; the data page the GDT and the parameters.
// Read by the assembly (handover_trampoline_code.S) and the C++ that fills the
// page, so these are preprocessor numbers: the assembler has no constexpr.
// handover_trampoline.cpp checks every one against the C++ layout.
#pragma once

#define TRAMPOLINE_CODE 0x000    // code page: the code, copied from the loader's text
#define TRAMPOLINE_GDT 0x000     // data page: null, 64-bit code, 32-bit code, flat data
#define TRAMPOLINE_PARAMS 0x100  // data page: struct TrampolineParams

#define TRAMPOLINE_CODE64_SELECTOR 0x08
#define TRAMPOLINE_CODE32_SELECTOR 0x10
#define TRAMPOLINE_DATA_SELECTOR 0x18

// Offsets inside TrampolineParams.
#define PARAM_GDTR 0x00       // lgdt's operand: limit (2 bytes), base (8)
#define PARAM_FAR64 0x10      // ljmp's operand back into 64-bit code: offset (4 bytes), selector (2)
#define PARAM_TOP_TABLE 0x18  // the next CR3: a PML4, or a PML5 with LA57; below 4 GiB
#define PARAM_LA57 0x20       // CR4.LA57 wanted afterwards: 0 or CR4_LA57
#define PARAM_ENTRY 0x28      // where to jump; 0 returns to the caller instead
#define PARAM_STACK_TOP 0x30  // RSP for the jump
#define PARAM_ARGUMENT 0x38   // RDI for the jump: the handoff
#define PARAM_SAVED_RSP 0x40  // the caller's, for the return
#define PARAM_SAVED_RBP 0x48

#define CR0_PG 0x80000000
#define CR4_PGE 0x80
#define CR4_LA57 0x1000
#define CR4_PCIDE_BIT 17

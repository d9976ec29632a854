// Chapter 16's word to the loader: this kernel follows a five-level handover
// (boot/kernel_note.h). Without this note, the loader hands four levels
// whatever `paging=` says, because every earlier chapter builds 4-level
// tables. A runtime module chapter 16 declares (CHAPTER_NEW_RUNTIME).
//
// Written in assembly, as Linux writes its ELF notes: a C++ object of 28
// bytes would be aligned to 16, and a note's alignment must be 4 (or 8).
#include "boot/kernel_note.h"

static_assert(sizeof(boot::kNoteName) == 11 && boot::kNotePagingLevels == 1 &&
                  (boot::kLevels4 | boot::kLevels5) == 0x30,
              "the numbers the note below spells out");

asm(R"(
    .section .note.kernelbook, "a", @note
    .balign 4
    .long 11                /* n_namesz: "KernelBook" and its NUL */
    .long 4                 /* n_descsz */
    .long 1                 /* n_type: kNotePagingLevels */
    .asciz "KernelBook"
    .balign 4
    .long 0x30              /* bit 4 | bit 5: four and five levels */
    .previous
)");

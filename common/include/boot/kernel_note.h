// What a kernel tells its loader about itself: an ELF note (chapter 16).
//
// The loader obeys `paging=5` only for a kernel that says it follows a
// five-level handover, the way Linux's boot protocol has a kernel set
// XLF_5LEVEL in its header: a loader must not hand five levels to a kernel
// whose tables are four deep (its first CR3 load would make the CPU read a
// PML4 as a PML5). A kernel says so with one note in a PT_NOTE segment,
// which the loader reads while it validates the ELF (boot/elf_image.h):
//
//   n_namesz = 11, n_descsz = 4, n_type = kNotePagingLevels,
//   name "KernelBook\0" (padded to 12), desc: a uint32_t, bit N set = N levels
//
// Chapters 01–15 carry no such note, so they get four levels whatever the
// command line asks; chapter 16 links one (kernel/five_level_note.cpp).
#pragma once

#include <stdint.h>

namespace boot {

inline constexpr char kNoteName[] = "KernelBook";  // 11 bytes with its NUL
inline constexpr uint32_t kNotePagingLevels = 1;
inline constexpr uint32_t kLevels4 = 1u << 4, kLevels5 = 1u << 5;

// The note's bytes, as the ELF gABI lays a note out (name and desc each
// padded to 4 bytes).
struct PagingLevelsNote {
    uint32_t name_size = sizeof(kNoteName);
    uint32_t desc_size = sizeof(uint32_t);
    uint32_t type = kNotePagingLevels;
    char name[12] = "KernelBook";
    uint32_t levels = kLevels4;
};
static_assert(sizeof(PagingLevelsNote) == 28, "12 bytes of header, 12 of name, 4 of desc");

}  // namespace boot

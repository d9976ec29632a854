// The kernel's virtual address space: every region's base, in one header.
//
//   virtual address            region                 flags        pages       from chapter
//   ────────────────────────── ────────────────────── ──────────── ─────────── ────────────
//   0x0000000000000000         page 0: never mapped   -            -           04
//   0x0000000000001000 … RAM   identity map           RW NX        largest     04 (gone in 08)
//   0xFFFF800000000000 + PA    phys-offset window     RW NX WB     1G/2M/4K    05
//   0xFFFFC00000000000         MMIO window            RW NX UC     4K          06
//   0xFFFFC80000000000 + PA    ACPI tables outside    R NX WB      4K          06
//                              RAM (those frames only)
//   0xFFFFD00000000000         framebuffer            RW NX WC     2M/4K       06
//   0xFFFFE00000000000         kernel heap (guard     RW NX        4K          11
//                              page below it)
//   0xFFFFF00000000000         kernel stacks: IST     RW NX        4K          10
//                              stacks, each with an
//                              unmapped guard below
//   0xFFFFFFFE00000000         temporary window slot  RW NX        4K          07
//   0xFFFFFFFF80000000         kernel image: guard,   RX / R NX /  4K          04
//                              text, rodata, data,    RW NX
//                              boot stack (+ guards)
//
// Each region has its own PML4 slots, so no two regions share a page-table
// walk below the PML4 — except the temporary slot and the image, which share
// the last slot (511) under different PDPT entries. The static_asserts below
// pin all of it.
#pragma once

#include <stdint.h>

#include "arch/x86/paging_bits.h"
#include "support/units.h"
#include "mm/virt_addr.h"

namespace mm::layout {

inline constexpr VirtAddr kPhysWindowBase{0xFFFF'8000'0000'0000ull};
// 64 TiB (2^46 bytes): PML4 slots 256-383. Our policy, not a hardware limit
// (x86_64 allows up to 52 physical address bits): RAM above it is refused by
// name (map_phys_offset_regions). It ends exactly where the MMIO
// window begins.
inline constexpr uint64_t kPhysWindowSize = 64 * 1024 * GiB;
inline constexpr VirtAddr kMmioWindowBase{0xFFFF'C000'0000'0000ull};
inline constexpr uint64_t kMmioWindowSize = 1 * GiB;
// ACPI tables the firmware left in reserved memory, each frame at base + pa
// (acpi_table_window.h): 512 GiB, one PML4 slot; a table above is refused.
inline constexpr VirtAddr kAcpiTablesBase{0xFFFF'C800'0000'0000ull};
inline constexpr uint64_t kAcpiTablesWindowSize = 512 * GiB;
inline constexpr VirtAddr kFramebufferBase{0xFFFF'D000'0000'0000ull};
inline constexpr uint64_t kFramebufferWindowSize = 1 * GiB;
inline constexpr VirtAddr kHeapBase{0xFFFF'E000'0000'0000ull};
inline constexpr uint64_t kHeapWindowSize = 64 * GiB;
// The exception stacks of chapter 10 (common/mm/kernel_stacks.h lays them out).
inline constexpr VirtAddr kKernelStacksBase{0xFFFF'F000'0000'0000ull};
inline constexpr uint64_t kKernelStacksWindowSize = 1 * GiB;
inline constexpr VirtAddr kTemporaryWindowSlot{0xFFFF'FFFE'0000'0000ull};
inline constexpr VirtAddr kKernelImageBase{0xFFFF'FFFF'8000'0000ull};

// The regions, in address order, for the boot log and for verification.
struct Region {
    const char* name;
    VirtAddr base;
    uint64_t size;
};
inline constexpr Region kRegions[] = {
    {"phys-window", kPhysWindowBase, kPhysWindowSize},
    {"mmio", kMmioWindowBase, kMmioWindowSize},
    {"acpi-tables", kAcpiTablesBase, kAcpiTablesWindowSize},
    {"framebuffer", kFramebufferBase, kFramebufferWindowSize},
    {"heap", kHeapBase, kHeapWindowSize},
    {"kernel-stacks", kKernelStacksBase, kKernelStacksWindowSize},
    {"temporary-window", kTemporaryWindowSlot, kPageSize},
    {"kernel-image", kKernelImageBase, 2 * GiB},
};

namespace detail {
constexpr unsigned first_slot(const Region& r) { return x86::pte::pml4_index(r.base.value()); }
constexpr unsigned last_slot(const Region& r) { return x86::pte::pml4_index(r.base.value() + (r.size - 1)); }
}  // namespace detail

static_assert(detail::first_slot(kRegions[0]) == 256 && detail::last_slot(kRegions[0]) == 383);
static_assert(detail::last_slot(kRegions[0]) < detail::first_slot(kRegions[1]));
static_assert(detail::last_slot(kRegions[1]) < detail::first_slot(kRegions[2]));
static_assert(detail::last_slot(kRegions[2]) < detail::first_slot(kRegions[3]));
static_assert(detail::last_slot(kRegions[3]) < detail::first_slot(kRegions[4]));
static_assert(detail::last_slot(kRegions[4]) < detail::first_slot(kRegions[5]));
static_assert(detail::last_slot(kRegions[5]) < detail::first_slot(kRegions[6]));
static_assert(detail::first_slot(kRegions[6]) == 511 && detail::first_slot(kRegions[7]) == 511);
static_assert(detail::first_slot(kRegions[2]) == detail::last_slot(kRegions[2]));  // the ACPI tables: one slot
static_assert(x86::pte::pdpt_index(kTemporaryWindowSlot.value()) != x86::pte::pdpt_index(kKernelImageBase.value()));
static_assert(kPhysWindowBase.is_canonical() && kMmioWindowBase.is_canonical() && kAcpiTablesBase.is_canonical() &&
              kFramebufferBase.is_canonical() &&
              kHeapBase.is_canonical() && kKernelStacksBase.is_canonical() && kTemporaryWindowSlot.is_canonical() && kKernelImageBase.is_canonical());

}  // namespace mm::layout

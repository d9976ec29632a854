// Mapping policy: the one place that decides how a region is mapped, which
// flags its leaves carry and how large its pages may be.
//
// Flag sets are named by what the memory is and derived from one another, so
// "kernel data is rodata plus writable" is written once and the two cannot
// drift apart. Caching is not a flag here but a memory type (memory_type.h),
// which leaf_entry_flags() turns into PWT/PCD/PAT per page size.
#pragma once

#include <stdint.h>

#include "arch/x86/paging_bits.h"
#include "mm/memory_type.h"
#include "mm/mtrr.h"
#include "mm/page_size.h"
#include "mm/phys_addr.h"
#include "mm/virt_addr.h"

namespace mm {

// Leaf flags, before the page size adds PS (leaf_entry_flags below). Never US:
// no page of the kernel is user-accessible (a process's pages have flags of
// their own, user_address_space.h).
namespace leaf_flags {

namespace pte = x86::pte;

// Read-only and not executable: the base every kernel mapping starts from.
inline constexpr uint64_t kKernelRodata = pte::kPresent | pte::kNoExecute;
// Read-only and executable (RX): rodata with execution allowed.
inline constexpr uint64_t kKernelText = kKernelRodata & ~pte::kNoExecute;
// Read-write, never executable (RW+NX): nothing is both writable and executable.
inline constexpr uint64_t kKernelData = kKernelRodata | pte::kWritable;
// Physical memory seen through the kernel's window on it: data, never code.
inline constexpr uint64_t kPhysWindow = kKernelData;
// The identity map of low memory kept while the kernel switches tables.
inline constexpr uint64_t kIdentityLowMemory = kKernelData;
// Device registers and the framebuffer: data to the CPU, never code. Their
// memory types (UC, WC) come with their policies below, not as flags.
inline constexpr uint64_t kMmio = kKernelData;
inline constexpr uint64_t kFramebuffer = kKernelData;
// ACPI tables outside RAM (acpi_table_window.h): read, never written or run.
inline constexpr uint64_t kAcpiTables = kKernelRodata;
// The kernel heap (chapter 11): data, never code.
inline constexpr uint64_t kHeap = kKernelData;

static_assert(kKernelText == pte::kPresent);
static_assert(kKernelData == (pte::kPresent | pte::kWritable | pte::kNoExecute));

}  // namespace leaf_flags

// Flags of every non-leaf entry: present and writable, executable and
// supervisor-only. Access rights combine across levels, most restrictive
// wins (SDM Vol. 3A, 4.6 "Access Rights"), so permissive tables let the leaf
// flags alone decide what a page allows.
inline constexpr uint64_t kTableEntryFlags = x86::pte::kPresent | x86::pte::kWritable;

// How map_range maps one region.
struct MappingPolicy {
    uint64_t leaf_flags;         // from leaf_flags::, P included; never PS, PWT, PCD, PAT or address bits
    PageSize max_page_size;      // the largest page the region may use; 1 GiB also needs the CPU (the builder knows)
    MemoryType memory_type = MemoryType::kNormal;  // becomes PWT/PCD/PAT in leaf_entry_flags()
    // The firmware's MTRRs (fit_to_cpu sets them): a large page must not span
    // two MTRR types. nullptr: no MTRR limit (host tests, unless they set one).
    const MtrrState* mtrrs = nullptr;
};

// Kernel image sections are mapped with 4 KiB pages: their boundaries are only
// page-aligned, and a large page would lend one section's rights to its neighbour.
inline constexpr MappingPolicy kKernelTextPolicy = {leaf_flags::kKernelText, PageSize::k4KiB};
inline constexpr MappingPolicy kKernelRodataPolicy = {leaf_flags::kKernelRodata, PageSize::k4KiB};
inline constexpr MappingPolicy kKernelDataPolicy = {leaf_flags::kKernelData, PageSize::k4KiB};

// Large regions of plain memory: the largest page alignment (and the CPU) allows.
constexpr MappingPolicy phys_window_policy() { return {leaf_flags::kPhysWindow, PageSize::k1GiB}; }
constexpr MappingPolicy identity_low_memory_policy() { return {leaf_flags::kIdentityLowMemory, PageSize::k1GiB}; }

// book:begin mmio-policies
// Device registers: one 4 KiB page each, uncached, so every read and write
// reaches the device in program order.
inline constexpr MappingPolicy kMmioPolicy = {leaf_flags::kMmio, PageSize::k4KiB, MemoryType::kDevice};
// The framebuffer: large pages where aligned (1 GiB never: no framebuffer is
// that big), write-combining, so pixel writes leave the CPU in bursts.
inline constexpr MappingPolicy kFramebufferPolicy = {leaf_flags::kFramebuffer, PageSize::k2MiB,
                                                     MemoryType::kWriteCombining};
// ACPI tables the firmware left in reserved memory: 4 KiB pages, each frame
// mapped on its own when a table needs it, read-only and write-back, as
// Linux's acpi_os_ioremap() maps them on x86 (ioremap_cache); where the
// firmware's MTRRs say UC the CPU still uses UC (SDM Vol. 3A, Table 11-7:
// the effective type combines MTRR and PAT).
inline constexpr MappingPolicy kAcpiTablesPolicy = {leaf_flags::kAcpiTables, PageSize::k4KiB, MemoryType::kNormal};
// book:end mmio-policies

// book:begin heap-policy
// The kernel heap (chapter 11): 4 KiB pages, because it grows a few pages at
// a time from whatever frames are free, which are rarely contiguous.
inline constexpr MappingPolicy kHeapPolicy = {leaf_flags::kHeap, PageSize::k4KiB};
// book:end heap-policy

// A page of `size` can map `va` -> `pa` when BOTH addresses are aligned to it
// (the CPU copies the low bits of the linear address into the physical one
// unchanged) and at least `size` bytes are left to map.
constexpr bool page_fits(VirtAddr va, PhysAddr pa, uint64_t bytes_left, PageSize size) {
    return va.is_aligned(bytes(size)) && pa.is_aligned(bytes(size)) && bytes_left >= bytes(size);
}

// The largest page that can map the next `bytes_left` bytes at `va` -> `pa`,
// no larger than `max_allowed`; 1 GiB also needs the CPU's support. 4 KiB
// when nothing larger fits.
constexpr PageSize largest_page_size(VirtAddr va, PhysAddr pa, uint64_t bytes_left, bool cpu_has_1gib_pages,
                                     PageSize max_allowed) {
    if (max_allowed >= PageSize::k1GiB && cpu_has_1gib_pages && page_fits(va, pa, bytes_left, PageSize::k1GiB))
        return PageSize::k1GiB;
    if (max_allowed >= PageSize::k2MiB && page_fits(va, pa, bytes_left, PageSize::k2MiB)) return PageSize::k2MiB;
    return PageSize::k4KiB;
}

// The page map_range() picks for the next `bytes_left` bytes at va -> pa
// under `policy` on a CPU with or without 1 GiB pages (the builder's, set
// once): the largest that alignment, length, policy and CPU allow,
// then, where the policy carries the MTRRs, the largest of those whose whole
// span has one MTRR type (largest_uniform_page). `split_by_mtrr` says the
// MTRRs made it smaller.
struct [[nodiscard]] PageChoice {
    PageSize size;
    bool split_by_mtrr;
};

inline PageChoice choose_page(VirtAddr va, PhysAddr pa, uint64_t bytes_left, const MappingPolicy& policy,
                              bool cpu_has_1gib_pages) {
    const PageSize fits = largest_page_size(va, pa, bytes_left, cpu_has_1gib_pages, policy.max_page_size);
    if (policy.mtrrs == nullptr || fits == PageSize::k4KiB) return {fits, false};
    const PageSize uniform = largest_uniform_page(*policy.mtrrs, pa, fits);
    return {uniform, uniform != fits};
}

inline PageSize largest_page_size(VirtAddr va, PhysAddr pa, uint64_t bytes_left, const MappingPolicy& policy,
                                  bool cpu_has_1gib_pages) {
    return choose_page(va, pa, bytes_left, policy, cpu_has_1gib_pages).size;
}

// The flags a leaf of `size` carries under `policy`: PS marks a 2 MiB or
// 1 GiB leaf (SDM Vol. 3A, 4.5, Tables 4-16 and 4-18), and the memory type
// adds its PWT/PCD/PAT bits, whose PAT bit moves with the page size.
constexpr uint64_t leaf_entry_flags(const MappingPolicy& policy, PageSize size) {
    return policy.leaf_flags | (size == PageSize::k4KiB ? 0 : x86::pte::kHugePage) |
           cache_bits(policy.memory_type, size);
}

// Examples, checked by the compiler.
static_assert(largest_page_size(VirtAddr(0x4000'0000), PhysAddr(0x4000'0000), GiB, true, PageSize::k1GiB) ==
              PageSize::k1GiB);
static_assert(largest_page_size(VirtAddr(0x4000'0000), PhysAddr(0x4000'0000), GiB, false, PageSize::k1GiB) ==
              PageSize::k2MiB);  // no CPU support
static_assert(largest_page_size(VirtAddr(0x4000'0000), PhysAddr(0x4020'0000), GiB, true, PageSize::k1GiB) ==
              PageSize::k2MiB);  // physical address only 2 MiB-aligned
static_assert(largest_page_size(VirtAddr(0x4000'0000), PhysAddr(0x4000'1000), GiB, true, PageSize::k1GiB) ==
              PageSize::k4KiB);  // physical address only 4 KiB-aligned
static_assert(largest_page_size(VirtAddr(0x20'0000), PhysAddr(0x20'0000), 2 * MiB - 4 * KiB, true, PageSize::k1GiB) ==
              PageSize::k4KiB);  // too few bytes left
static_assert(largest_page_size(VirtAddr(0x20'0000), PhysAddr(0x20'0000), 2 * MiB, true, PageSize::k4KiB) ==
              PageSize::k4KiB);  // kernel sections
static_assert(leaf_entry_flags(kKernelDataPolicy, PageSize::k2MiB) ==
              (leaf_flags::kKernelData | x86::pte::kHugePage));
static_assert(leaf_entry_flags(kMmioPolicy, PageSize::k4KiB) ==
              (leaf_flags::kKernelData | x86::pte::kCacheDisable | x86::pte::kWriteThrough));
static_assert(leaf_entry_flags(kFramebufferPolicy, PageSize::k4KiB) == (leaf_flags::kKernelData | x86::pte::kPat4K));
static_assert(leaf_entry_flags(kFramebufferPolicy, PageSize::k2MiB) ==
              (leaf_flags::kKernelData | x86::pte::kHugePage | x86::pte::kPatHuge));

}  // namespace mm

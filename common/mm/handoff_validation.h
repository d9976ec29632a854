// validate_handoff: everything the loader handed over is checked before any of
// it is used. The loader is our own code, but the memory map inside the handoff
// comes from firmware, and a kernel that trusts a broken map hands out frames
// that hold ACPI tables or page tables. The first broken rule is returned as a
// Violation (field, value, rule, and the descriptor index when there is one).
#pragma once

#include <stdint.h>

#include "boot/handoff.h"
#include "mm/memory_ranges.h"
#include "support/violation.h"

namespace mm {

// More descriptors than this is not a memory map but garbage: real machines
// report a few hundred at most. The bound also keeps the overlap check cheap.
inline constexpr uint64_t kMaxMemoryDescriptors = 2048;

// `map` is where the kernel can read the descriptors that start at physical
// address handoff.memory_map (the identity map until chapter 08, the
// phys-offset window after it).
Violation validate_handoff(const boot::BootHandoff& handoff, const uint8_t* map);

// What the loader placed in memory for the kernel. Each must lie wholly in a
// range of its own loader-owned kind, or the frame allocator (chapter 03)
// could hand out a page the kernel is still running from.
struct LoaderObject {
    const char* name;  // "kernel-image", "handoff", "memory-map", "bootstrap-pml4", "boot-stack"
    PhysAddr start;
    uint64_t size;
    RangeKind expected_kind;
};
inline constexpr size_t kLoaderObjectCount = 5;
// `handoff_address` is where the handoff itself lives (the loader enters the
// kernel with its physical address).
void list_loader_objects(const boot::BootHandoff& handoff, PhysAddr handoff_address,
                         LoaderObject (&objects)[kLoaderObjectCount]);
Violation check_loader_objects(const LoaderObject (&objects)[kLoaderObjectCount], const MemoryRangeList& ranges);

// The boot modules (handoff version 2): at most kMaxBootModules, each named,
// non-empty, page-aligned, wholly inside boot-modules memory, and overlapping
// neither the loader objects (the kernel image above all) nor one another.
// Zero modules is a valid list. The index of a violation is the module's.
Violation check_boot_modules(const boot::BootHandoff& handoff, const LoaderObject (&objects)[kLoaderObjectCount],
                             const MemoryRangeList& ranges);

}  // namespace mm

// The one mapper of "all RAM": chapter 04's identity map and chapter 05's
// phys-offset window both map every RAM run (ram_runs.h) with this code, at
// their own offset, and both keep the same per-frame exceptions.
//
// A frame may have several virtual addresses (the kernel image's text is at
// -2 GiB and, as RAM, in the identity map and the window too), and the CPU
// checks rights and memory type per *address*. So what one mapping promises
// about a frame, every alias must keep:
//
//   what          frames                      rule       why
//   ───────────── ─────────────────────────── ────────── ──────────────────────────────────────────
//   kernel-image  text and rodata             read-only  executable (text) or read-only (rodata) at
//                                                        -2 GiB: a writable alias would undo W^X
//
// Read-only rather than left out for the image: reading the image through
// the window is harmless and keeps every byte of RAM readable there (GDB's
// helpers and the window's self-check read RAM by physical address); only
// writing through an alias breaks the promise. The framebuffer needs no
// entry: its frames are not RAM to the kernel at all (the range list sets
// them aside, MemoryRangeList::set_aside, so neither these mappings nor any
// frame allocator meets them); nor do device registers:
// mmio_device_addresses() refuses any device whose page is RAM, so no device
// frame is ever in a RAM run. kLeftOut stays for a frame a mapping must skip
// while the allocators may still own it.
//
// A run is cut into pieces where an exception begins and ends, and each
// piece is mapped on its own, with the largest page that fits (and has one
// MTRR type), so large pages split only at an exception's edges.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/kernel_image_span.h"
#include "mm/memory_ranges.h"
#include "mm/page_table_builder.h"
#include "mm/ram_runs.h"
#include "support/violation.h"

namespace mm {

enum class FrameRule : uint8_t {
    kReadOnly,  // mapped, but never writable
    kLeftOut,   // not mapped at all
};
const char* frame_rule_name(FrameRule rule);  // "read-only", "left-out"

// Frames [start, end) that the RAM mappings treat differently.
struct FrameException {
    PhysAddr start;  // page-aligned
    PhysAddr end;    // page-aligned, exclusive
    FrameRule rule;
    const char* what;  // "kernel-image", "framebuffer": the log line's what=
};

// The exceptions, sorted by address and disjoint: add() keeps them so, or
// refuses by name.
class FrameExceptions {
public:
    static constexpr size_t kCapacity = 4;

    // Adds [start, start + size), widened to whole pages. Refuses an empty or
    // overflowing range, one that overlaps an exception already added (two
    // rules for one frame), and a fifth exception.
    Violation add(PhysAddr start, uint64_t size, FrameRule rule, const char* what);

    size_t count() const { return count_; }
    const FrameException& operator[](size_t i) const { return items_[i]; }
    const FrameException* begin() const { return items_; }
    const FrameException* end() const { return items_ + count_; }

private:
    FrameException items_[kCapacity] = {};
    size_t count_ = 0;
};

// The exceptions of the kernel's RAM mappings: the image's text and rodata
// (contiguous in the image, kernel_image_span.h) read-only. Only valid for a
// layout and placement check_kernel_placement() accepted.
Violation kernel_frame_exceptions(const KernelImageLayout& layout, const KernelPlacement& placement,
                                  FrameExceptions* out);

// One piece of a RAM run: plain RAM (exception == nullptr) or the part of an
// exception that lies in the run.
struct RamPiece {
    PhysAddr start;
    PhysAddr end;  // exclusive
    const FrameException* exception;
};

// Calls visit(const RamPiece&) for each piece of [start, end) in address
// order, left-out pieces included; stops, returning false, when visit does.
template <typename Visit>
bool for_each_ram_piece(PhysAddr start, PhysAddr end, const FrameExceptions& exceptions, Visit&& visit) {
    PhysAddr at = start;
    for (const FrameException& e : exceptions) {
        if (at >= end) break;
        if (e.end <= at || e.start >= end) continue;
        if (e.start > at) {
            if (!visit(RamPiece{at, e.start, nullptr})) return false;
            at = e.start;
        }
        const PhysAddr piece_end = e.end < end ? e.end : end;
        if (!visit(RamPiece{at, piece_end, &e})) return false;
        at = piece_end;
    }
    return at >= end || visit(RamPiece{at, end, nullptr});
}

// `policy` with the writable right taken away: what a read-only piece gets.
constexpr MappingPolicy read_only(MappingPolicy policy) {
    policy.leaf_flags &= ~x86::pte::kWritable;
    return policy;
}

// The policy a piece is mapped with, or nullptr for a left-out piece.
inline const MappingPolicy* piece_policy(const RamPiece& piece, const MappingPolicy& policy,
                                         const MappingPolicy& read_only_policy) {
    if (piece.exception == nullptr) return &policy;
    return piece.exception->rule == FrameRule::kReadOnly ? &read_only_policy : nullptr;
}

// What differs between the two RAM mappings.
struct RamMapping {
    const char* phase;      // "identity_map_low_memory": phase= of a refusal, and the phase line
    const char* run_event;  // "identity run", "window run"
    uint64_t va_offset;     // a frame's address there: va = pa + va_offset
    PhysAddr floor;         // nothing below it is mapped (the identity map keeps page 0 out)
    uint64_t pa_limit;      // RAM ending above it is refused (0: no limit but the builder's)
    const char* region;     // region= of that refusal
    MappingPolicy policy;   // fitted to the CPU; read-only pieces drop RW
};

// What map_ram_runs() did, for the phase line.
struct RamMapSummary {
    uint64_t ranges = 0;  // ranges of the list in the runs
    uint64_t runs = 0;    // runs mapped
    MapStats stats;       // every page and table of every run
};

// Maps every RAM run of `ranges` (above the floor), piece by piece, at
// pa + va_offset. Logs per run
//   [INFO  paging] <run_event> start=0x… end=0x… [va=0x…] bytes=… pages-4k=… … tables=…
// (va= when va_offset is not 0), and per exception a run meets
//   [INFO  paging] read-only phase=… what=kernel-image start=0x… end=0x… [va=0x…]
//   [INFO  paging] left-out phase=… what=… start=0x… end=0x…
// On a refusal logs `map rejected` and returns it; the tables may then hold
// the runs mapped before it. The caller logs the phase line.
MapResult map_ram_runs(PageTableBuilder& builder, const MemoryRangeList& ranges, const FrameExceptions& exceptions,
                       const RamMapping& mapping, RamMapSummary* summary);

}  // namespace mm

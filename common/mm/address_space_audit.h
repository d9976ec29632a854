// The address-space audit: the live tables held against what the kernel
// meant to build.
//
// Two kinds of check, both over PageTableWalker, both reporting a Finding
// per broken rule (region or owner, address, what was found, what was
// expected, the rule):
//
//  - check_region(): one expected region, page by page. A mapped region
//    (kernel text, the phys window's runs, a device, the framebuffer) must be
//    mapped in full, to the expected frames, with exactly its policy's flags
//    and memory type, in the page sizes its policy picks for each address
//    on this CPU (largest_page_size, as PageTableBuilder did). An absent region (a guard
//    page, the idle temporary window) must not have one address mapped.
//  - audit_address_space(): one walk over everything, with the rules that
//    hold for every entry (SDM Vol. 3A, 4.5 and 4.6):
//      no page both writable and executable (effective rights, all levels)
//      no entry with U/S, at any level: no page of this kernel is for user mode
//      every non-present entry zero, and no PS in a PML4 (or PML5) entry
//      no table frame reachable twice (two paths to one table would let a
//        change made for one address silently change another)
//      every mapped page inside an expected region
//  - and, over the same walk, the rules for every *physical frame*, because
//    a frame may have several addresses (the kernel's text at -2 GiB and in
//    the phys window; a framebuffer in RAM) and the CPU judges each address
//    alone:
//      no frame writable through one address and executable through another
//      no frame with two memory types (the type from each leaf's PWT/PCD/PAT
//        bits and the PAT the kernel programs, kPatValue; SDM Vol. 3A 11.12.4
//        leaves a frame mapped with two types undefined)
//    A first pass collects the frames of the few leaves that could conflict
//    (the executable ones, the ones not write-back), merged into ranges; a
//    second holds every leaf against them. Any conflicting pair has one such
//    leaf, so the check is complete; more ranges than it can hold are
//    refused by name (kTooManyFrameRanges), never skipped in silence.
//
// Both take the tables' depth from the walker (PageTableWalker::depth): the
// same rules hold at 4 and 5 levels, only the root and the canonical form differ.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/cpu_paging_features.h"
#include "mm/mapping_policy.h"
#include "mm/page_table_walker.h"

namespace mm {

// One region the kernel expects to find in its tables.
struct RegionExpectation {
    const char* name;
    VirtAddr va;
    uint64_t size;          // a multiple of 4 KiB
    bool mapped;            // false: no address of it may be mapped (a guard page, an idle slot)
    bool check_pa;          // false: any frame will do (a device whose address the kernel no longer holds)
    PhysAddr pa;            // where `va` must land, when check_pa
    MappingPolicy policy;   // fitted to the CPU: the leaves' flags, memory type and page sizes
};

constexpr RegionExpectation expect_mapped(const char* name, VirtAddr va, PhysAddr pa, uint64_t size,
                                          const MappingPolicy& policy) {
    return {name, va, size, true, true, pa, policy};
}
constexpr RegionExpectation expect_mapped_anywhere(const char* name, VirtAddr va, uint64_t size,
                                                   const MappingPolicy& policy) {
    return {name, va, size, true, false, PhysAddr(), policy};
}
constexpr RegionExpectation expect_absent(const char* name, VirtAddr va, uint64_t size) {
    return {name, va, size, false, false, PhysAddr(), {}};
}

// The rules, each with the sentence a log line's rule= field quotes.
enum class AuditRule : uint8_t {
    // check_region
    kMapped,             // found: 0 (not present)
    kAbsent,             // found: flags
    kInsideRegion,       // found: the page's first address; expected: the region's bounds
    kPhysical,           // found/expected: physical address
    kPageSize,           // found/expected: bytes
    kFlags,              // found/expected: normalized flags
    // audit_address_space
    kWritableExecutable, // found: normalized effective flags
    kUser,               // found: the entry's raw flags
    kNotPresentNonZero,  // found: the raw entry
    kPsInPml4e,          // found: the raw entry
    kPsInPml5e,          // found: the raw entry
    kSharedTable,        // found: the table frame
    kTooManyTables,      // found: the table frame that did not fit
    kUnexpected,         // found: normalized effective flags
    kFrameWritableExecutable,  // found: the frame; expected: the executable alias's address
    kFrameMemoryTypes,         // found: this leaf's memory type (PAT encoding); expected: the other alias's
    kTooManyFrameRanges,       // found: the first frame that did not fit; expected: the capacity
};
const char* describe(AuditRule rule);

struct Finding {
    AuditRule rule;
    const char* region;  // the region checked, or the layout region the address falls in
    VirtAddr va;
    uint64_t found;
    uint64_t expected;
};

class FindingSink {
public:
    virtual void found(const Finding& finding) = 0;

protected:
    ~FindingSink() = default;
};

// One region's verdict. check_region stops at the region's first finding.
struct [[nodiscard]] RegionResult {
    uint64_t pages_4k = 0, pages_2m = 0, pages_1g = 0;
    bool ok = true;
};
// `cpu`: the CPU the tables were built for; the page sizes expected are the
// ones the builder could use on it (no 1 GiB page without Page1GB).
RegionResult check_region(PageTableWalker& walker, const RegionExpectation& region, CpuPagingFeatures cpu,
                          FindingSink& sink);

struct AuditCounts {
    uint64_t leaves = 0;
    uint64_t tables = 0;
    uint64_t wx = 0;
    uint64_t user = 0;
    uint64_t nonzero_not_present = 0;
    uint64_t malformed = 0;      // PS in a PML4 or PML5 entry
    uint64_t shared_tables = 0;  // a table reached a second time (not walked again)
    uint64_t unexpected = 0;     // leaves outside every mapped region
    uint64_t untracked = 0;      // tables beyond kMaxAuditTables (not walked), ranges beyond kMaxFrameRanges
    uint64_t frame_wx = 0;       // writable leaves over a frame another leaf makes executable
    uint64_t frame_types = 0;    // leaves over a frame another leaf gives another memory type

    bool ok() const {
        return wx == 0 && user == 0 && nonzero_not_present == 0 && malformed == 0 && shared_tables == 0 &&
               unexpected == 0 && untracked == 0 && frame_wx == 0 && frame_types == 0;
    }
};

// How many ranges of executable frames, and of frames not mapped write-back,
// the per-frame rules can hold (touching frames of one kind merge: the
// kernel's text is one range, each device page one, the framebuffer one).
inline constexpr size_t kMaxFrameRanges = 64;

// The memory type a leaf gives its frames under kPatValue: a pat:: encoding.
uint8_t leaf_memory_type(const Leaf& leaf);
// "UC", "WC", "WT", "WP", "WB", "UC-".
const char* pat_type_name(uint8_t type);

// How many distinct table frames the audit can remember for the "reachable
// twice" rule; a larger address space is refused (kTooManyTables).
inline constexpr size_t kMaxAuditTables = 1024;

// The global rules over every table reachable from the walker's root, then
// the per-frame rules. `no_execute` is whether NX is in force: without it
// every page is executable and neither W^X rule can hold, so they are not
// applied.
AuditCounts audit_address_space(PageTableWalker& walker, const RegionExpectation* regions, size_t region_count,
                                bool no_execute, FindingSink& sink);

// found= and expected= of a finding as text: flags as "P|RW|NX", addresses in
// hex, page sizes as "2MiB", a missing page as "not-present".
struct FindingText {
    char found[40];
    char expected[40];
};
FindingText finding_text(const Finding& finding);

// A FindingSink that logs each finding as
//   [ERROR verify] region rejected name=text va=0x… found=P|RW expected=P rule="…"
//   [ERROR verify] audit rejected region=heap va=0x… found=P|RW expected=… rule="…"
// and counts them.
class LoggingFindingSink final : public FindingSink {
public:
    void found(const Finding& finding) override;
    uint64_t count() const { return count_; }

private:
    uint64_t count_ = 0;
};

}  // namespace mm

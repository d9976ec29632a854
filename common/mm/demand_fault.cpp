#include "mm/demand_fault.h"

namespace mm {
namespace {

FaultDecision refuse(uint64_t page, const char* rule, const char* explanation) {
    FaultDecision d;
    d.page = page;
    d.refusal = {rule, explanation};
    return d;
}

FaultDecision kernel_bug(FaultDecision d) {
    d.kernel_bug = true;
    return d;
}

}  // namespace

const char* fault_action_name(FaultAction action) {
    switch (action) {
        case FaultAction::kZeroFill: return "zero-fill";
        case FaultAction::kFileMap: return "file-map";
        case FaultAction::kFileCopy: return "file-copy";
        case FaultAction::kRefuse: return "refuse";
    }
    return "?";
}

// book:begin decide-fault-impl
// lab:begin decide-fault
FaultDecision decide_fault(const UserRegions& regions, VirtAddr address, const PageFaultError& error) {
    const uint64_t va = address.value();
    const uint64_t page = align_down(va, kPageSize);
    if (error.reserved_bit) return kernel_bug(refuse(page, "reserved-bit", "a page-table entry has a reserved bit set (a kernel bug)"));
    if (va >= kUserLimit.value()) return refuse(page, "kernel-memory", "the address is the kernel's, or not canonical");
    if (va < kUserLowest.value()) return refuse(page, "null-page", "nothing is ever mapped in the first 4 MiB");

    FaultDecision d;
    d.page = page;
    if (const UserRegion* r = regions.find(va)) {
        d.region = *r;
    } else if (const UserRegion* stack = regions.stack_growing_to(va)) {
        d.region = *stack;          // the stack grows down to this page first
        d.region.start = page;
        d.grow_stack_to = page;
    } else if (regions.stack_guarding(va)) {
        return refuse(page, "stack-overflow", "the stack grew past its limit into the guard gap below it");
    } else {
        return refuse(page, "no-region", "no region holds the address: never mapped, or unmapped");
    }

    if (error.write && !(d.region.rights & region_rights::kWrite))
        return refuse(page, "write-read-only", "a write to a region without PROT_WRITE");
    if (error.instruction_fetch && !(d.region.rights & region_rights::kExecute))
        return refuse(page, "execute-no-execute", "an instruction fetch from a region without PROT_EXEC");
    if (error.present)  // allowed, and there already: the tables and the list disagree
        return kernel_bug(refuse(page, "present-and-allowed", "the page is present with its region's rights (a kernel bug)"));

    // Text is always the module's own frame, read-only, whatever its rights
    // now (mprotect may take execute away and give it back): a copy would be
    // a frame the kernel's window maps writable. Only the file's bytes are
    // the module's; text past them is refused rather than served from
    // whatever frame follows the module.
    if (d.region.kind != RegionKind::kFile) {
        d.action = FaultAction::kZeroFill;
    } else if (d.region.text) {
        uint64_t file_end = 0;
        align_up(d.region.file_bytes, kPageSize, &file_end);  // at most a segment's 64 MiB: no wrap
        if (page - d.region.start >= file_end)
            return refuse(page, "text-past-file", "a text page past the bytes its file holds");
        d.action = FaultAction::kFileMap;
    } else {
        d.action = FaultAction::kFileCopy;
    }
    return d;
}
// lab:end decide-fault
// book:end decide-fault-impl

}  // namespace mm

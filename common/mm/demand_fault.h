// What a page fault in a process means, from its region list (chapter 13 on).
//
// Pure: the kernel's handler (mm/kernel/demand_faults.h) asks this, then does
// what it says. A fault is served when a region allows the access and the page
// is simply not there yet, and the answer says how to fill the page:
//
//   zero-fill   anonymous and stack pages: a fresh frame of zeroes
//   file-map    executable file pages (text): the module's own frame, in place,
//               read-only and borrowed (chapter 12's rule: never writable anywhere)
//   file-copy   any other file page: a fresh frame, the module's bytes copied in,
//               since the program may write it and the module must stay as loaded
//
// A fault just below the stack, within its growth room, first grows it. Every
// other fault is refused with the rule it broke, in chapter 12's words where
// chapter 12 had one (null-page, kernel-memory, write-read-only,
// execute-no-execute), and two of its own: no-region (an address no region
// holds) and stack-overflow (the guard gap below the stack's grow limit).
#pragma once

#include <stdint.h>

#include "mm/fault_decode.h"
#include "mm/user_address_space.h"
#include "mm/user_layout.h"
#include "mm/user_regions.h"

namespace mm {

enum class FaultAction : uint8_t { kZeroFill, kFileMap, kFileCopy, kRefuse };
const char* fault_action_name(FaultAction action);  // "zero-fill", "file-map", "file-copy", "refuse"

struct FaultDecision {
    FaultAction action = FaultAction::kRefuse;
    uint64_t page = 0;        // the faulting page's base
    uint64_t grow_stack_to = 0;  // nonzero: move the stack's start down to here first
    UserRegion region{};      // the region that backs the page (the stack as grown)
    UserFaultRule refusal{nullptr, nullptr};
    bool kernel_bug = false;  // refused because the tables and the regions disagree, not for the program
};

// book:begin decide-fault
FaultDecision decide_fault(const UserRegions& regions, VirtAddr address, const PageFaultError& error);
// book:end decide-fault

// The leaf flags a region's rights give its pages (chapter 12's user_flags).
constexpr uint64_t region_leaf_flags(uint8_t rights) {
    if (rights & region_rights::kWrite) return user_flags::kData;
    if (rights & region_rights::kExecute) return user_flags::kText;
    return user_flags::kRodata;
}

}  // namespace mm

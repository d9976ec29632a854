#include "mm/user_layout.h"

namespace mm {

// book:begin classify-user-fault
UserFaultRule classify_user_page_fault(VirtAddr address, const PageFaultError& e) {
    if (e.reserved_bit) return {"reserved-bit", "a paging-structure entry has a reserved bit set"};
    if (address >= kUserLimit)
        return {"kernel-memory", e.present ? "the page is the kernel's: present, but not user-accessible (U/S clear)"
                                           : "above the user limit: nothing there belongs to the program"};
    if (address < kUserLowest) return {"null-page", "nothing is mapped below 4 MiB: a null pointer plus an offset"};
    if (e.present && e.instruction_fetch)
        return {"execute-no-execute", "instruction fetch from a no-execute page (stack or data)"};
    if (e.present && e.write) return {"write-read-only", "write to a read-only page (text or rodata)"};
    if (address.page_base() == kUserStackGuard) return {"stack-guard", "the unmapped page below the user stack"};
    if (!e.present) return {"not-mapped", "nothing is mapped at this address"};
    return {"protection", "the page's rights forbid this access"};
}
// book:end classify-user-fault

}  // namespace mm

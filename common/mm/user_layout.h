// The lower half as one program sees it (chapter 12 on), drawn once and
// pinned with static_asserts, with the checks that follow from it: is a user
// range acceptable, and what broke when ring 3 faulted.
//
//   0x0000_0000_0000_0000  nothing: the first 4 MiB stay unmapped, so a null
//                          pointer plus a small offset faults (kUserLowest)
//   0x0000_0000_0040_0000  the program's ELF segments (user.ld links them here):
//                          text R-X, rodata R--, data and bss RW-NX
//        …                 nothing (images must end below kUserImageLimit)
//   0x0000_7FFF_FFEF_B000  the stack guard: unmapped, its own fault rule
//   0x0000_7FFF_FFEF_C000  the user stack, 16 KiB, RW-NX, growing down from
//   0x0000_7FFF_FFF0_0000  kUserStackTop
//        …                 nothing
//   0x0000_7FFF_FFFF_F000  kUserLimit: no user page at or above it. The top
//                          page of the lower half stays empty, because a
//                          SYSCALL in its last bytes would make SYSRET return
//                          to a non-canonical RIP (the SYSRET hazard)
//   0x0000_8000_0000_0000  non-canonical, then the kernel's half (256 PML4
//                          slots shared by every process, never user)
#pragma once

#include <stdint.h>

#include "mm/fault_decode.h"
#include "mm/virt_addr.h"
#include "support/units.h"
#include "support/violation.h"

namespace mm {

// book:begin user-layout
inline constexpr VirtAddr kUserLowest{0x40'0000};                 // 4 MiB: nothing user below
inline constexpr VirtAddr kUserLimit{(uint64_t(1) << 47) - kPageSize};  // nothing user at or above
inline constexpr VirtAddr kUserImageLimit{0x0000'7000'0000'0000};  // ELF segments end below this
inline constexpr VirtAddr kUserStackTop{0x0000'7FFF'FFF0'0000};
inline constexpr uint64_t kUserStackSize = 16 * KiB;
inline constexpr VirtAddr kUserStackBottom{kUserStackTop.value() - kUserStackSize};
inline constexpr VirtAddr kUserStackGuard{kUserStackBottom.value() - kPageSize};

static_assert(kUserLowest.is_aligned(kPageSize) && kUserImageLimit.is_aligned(kPageSize));
static_assert(kUserImageLimit < kUserStackGuard && kUserStackTop < kUserLimit);
static_assert(kUserStackTop.is_aligned(16) && kUserStackBottom.is_aligned(kPageSize));
static_assert(!VirtAddr(kUserLimit.value() + kPageSize).is_canonical());  // the page above the limit is the last of the lower half
// book:end user-layout

// book:begin check-user-range
// Whether a program may hand the kernel [address, address + bytes): wholly
// below kUserLimit, without wrapping. Says nothing about what is mapped there
// (the copy finds that out, safely). A zero-length range touches nothing and
// is accepted. `field` names the argument in the rejection ("buffer").
constexpr Violation check_user_range(const char* field, uint64_t address, uint64_t bytes) {
    if (bytes == 0) return accept();
    if (address >= kUserLimit.value())
        return reject(field, address, "must lie below the user limit 0x7ffffffff000 (a kernel or non-canonical address)");
    if (bytes > kUserLimit.value() - address)
        return reject("count", bytes, "buffer + count must end at or below the user limit 0x7ffffffff000");
    return accept();
}
// book:end check-user-range

static_assert(check_user_range("buffer", 0x40'0000, 16).ok());
static_assert(!check_user_range("buffer", 0xFFFF'FFFF'8000'0000, 16).ok());
static_assert(!check_user_range("buffer", 0x40'0000, ~uint64_t(0)).ok());  // would wrap
static_assert(check_user_range("buffer", kUserLimit.value() - 1, 1).ok());
static_assert(!check_user_range("buffer", kUserLimit.value() - 1, 2).ok());

// What a fault in ring 3 broke, as the log names it: rule=… and a sentence.
struct UserFaultRule {
    const char* rule;
    const char* explanation;
};

// The rule a page fault from ring 3 at `address` broke, from the error code
// and the layout above.
UserFaultRule classify_user_page_fault(VirtAddr address, const PageFaultError& error);

}  // namespace mm

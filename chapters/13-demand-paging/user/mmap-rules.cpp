// Well-behaved, but asks for what it may not have: each bad argument of
// mmap, munmap and mprotect must come back as the error the ABI names
// (abi/memory_syscalls.h), and the good calls must work, splitting and
// freeing a region on the way. Exits 0 when every answer was right, else the
// number of the first wrong one. Last, it hands write a page nothing has
// touched yet: the kernel's own copy is the first touch.
#include "user/memory.h"
#include "user/text.h"

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kRW = abi::kProtRead | abi::kProtWrite;
constexpr uint64_t kAnon = abi::kMapAnonymous;
constexpr uint64_t kFixed = abi::kMapFixed | abi::kMapAnonymous;
constexpr uint64_t kStackTop = 0x7FFF'FFF0'0000;

int g_check = 0;
int g_first_wrong = 0;

void expect(int64_t got, int64_t wanted) {
    ++g_check;
    if (got != wanted && g_first_wrong == 0) g_first_wrong = g_check;
}

}  // namespace

int main() {
    expect(user::mmap(0, 0, kRW | kAnon), -22);                                  // 1 length zero
    expect(user::mmap(0, kPage + 1, kRW | kAnon), -22);                          // 2 length unaligned
    expect(user::mmap(0x10'0000'0800, kPage, kRW | kFixed), -22);                // 3 address unaligned
    expect(user::mmap(0, kPage, kRW | abi::kProtExec | kAnon), -22);             // 4 W^X
    expect(user::mmap(0, kPage, abi::kProtWrite | kAnon), -22);                  // 5 no PROT_READ
    expect(user::mmap(0, kPage, kRW), -22);                                      // 6 not anonymous
    expect(user::mmap(0, kPage, abi::kProtRead | abi::kProtExec | kAnon), -13);  // 7 executable zeroes
    expect(user::mmap(0x7FFF'FFFF'D000, 4 * kPage, kRW | kFixed), -12);          // 8 crosses the user limit
    expect(user::mmap(0x10'0000'0000, ~uint64_t(0xFFF), kRW | kFixed), -12);     // 9 would wrap
    expect(user::mmap(0x40'0000, kPage, kRW | kFixed), -17);                     // 10 over the text
    expect(user::mmap(kStackTop - 512 * 1024, kPage, kRW | kFixed), -17);        // 11 in the stack's growth room
    const int64_t a = user::mmap(0, 8 * kPage, kRW | kAnon);                     // the kernel's choice:
    expect(a, 0x10'0000'0000);                                                   // 12 the first gap from 64 GiB
    for (uint64_t i = 0; i < 8; ++i) *reinterpret_cast<volatile uint8_t*>(a + i * kPage) = 1;
    expect(user::munmap(a + 2 * kPage, 2 * kPage), 0);                           // 13 a hole: two regions
    expect(user::mprotect(a, 8 * kPage, abi::kProtRead), -12);                   // 14 across the hole
    expect(user::munmap(a + 2 * kPage, 2 * kPage), 0);                           // 15 nothing there: fine
    expect(user::mprotect(a, 2 * kPage, abi::kProtRead), 0);                     // 16 the left part
    expect(user::mprotect(0x40'0000, kPage, kRW), -13);                          // 17 text writable
    expect(user::munmap(kStackTop - kPage, kPage), -22);                         // 18 the stack
    expect(user::mprotect(a, kPage, kRW | abi::kProtExec), -22);                 // 19 W^X again
    expect(user::mprotect(a, kPage, abi::kProtRead | abi::kProtExec), -13);      // 20 executable data
    expect(user::munmap(a, 8 * kPage), 0);                                       // 21 the rest
    const uint64_t data = reinterpret_cast<uint64_t>(&g_check) & ~(kPage - 1);   // this program's own data:
    expect(user::mprotect(data, kPage, abi::kProtRead | abi::kProtExec), -13);   // 22 a file region, not text
    // The kernel's copy for write touches a page first: served as a ring-3 touch would be.
    const int64_t fresh = user::mmap(0, kPage, abi::kProtRead | kAnon);          // read-only zeroes
    expect(fresh, 0x10'0000'0000);                                               // 23 the same gap again
    expect(user::write(1, reinterpret_cast<const void*>(fresh), 4), 4);          // 24 "...." (four zero bytes)
    user::Text().add("checked=").dec(uint64_t(g_check)).add(" first-wrong=").dec(uint64_t(g_first_wrong)).print();
    return g_first_wrong;
}

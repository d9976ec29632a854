// A program that cannot tell how many levels of tables map it: it asks for
// memory, fills three pages, asks for a page at the top of the 47-bit user
// half (the last page below kUserLimit) and one above it, which the kernel
// refuses at either depth (user space stays below 2^47, as Linux keeps it
// unless a program asks for more), forks, and the child writes one shared
// page (a copy) while the parent checks its own stays as it was.
#include "user/memory.h"
#include "user/process.h"
#include "user/text.h"

constexpr uint64_t kPage = 4096, kPages = 3;
constexpr uint64_t kUserLimit = (uint64_t(1) << 47) - kPage;  // mm/user_layout.h: nothing user at or above

int main() {
    const int64_t base = user::mmap(0, kPages * kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
    if (base < 0) return 10;
    for (uint64_t i = 0; i < kPages; ++i) *reinterpret_cast<volatile uint64_t*>(base + i * kPage) = 100 + i;
    const uint64_t rw = abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous | abi::kMapFixed;
    const int64_t top = user::mmap(kUserLimit - kPage, kPage, rw);  // the last page a program may have
    if (top != int64_t(kUserLimit - kPage)) return 11;
    *reinterpret_cast<volatile uint64_t*>(top) = 7;
    const int64_t above = user::mmap(uint64_t(1) << 47, kPage, rw);  // 57-bit canonical, not ours to give
    if (above >= 0) return 12;
    const int64_t pid = user::fork();
    if (pid < 0) return 13;
    volatile uint64_t* first = reinterpret_cast<volatile uint64_t*>(base);
    if (pid == 0) {
        *first = 200;  // a copy: the parent keeps 100
        return *reinterpret_cast<volatile uint64_t*>(top) == 7 ? 3 : 20;
    }
    int64_t status = 0;
    if (user::wait(&status) != pid || status != 3) return 14;
    user::Text().add("deep-fork top=").hex(uint64_t(top)).add(" above=").sdec(above).add(" child=").sdec(status)
        .add(" first=").dec(*first).print();
    return *first == 100 ? 0 : 15;
}

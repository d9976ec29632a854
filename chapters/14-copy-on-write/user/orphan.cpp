// The orphan: the parent fills 4 pages, forks and ends at once, without
// waiting. The child lives on, alone with frames the parent no longer maps,
// so its writes copy nothing: each page is taken over (its count is 1).
#include "user/memory.h"
#include "user/process.h"
#include "user/text.h"

constexpr uint64_t kPages = 4, kPage = 4096;

int main() {
    const int64_t base = user::mmap(0, kPages * kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
    if (base < 0) return 10;
    for (uint64_t i = 0; i < kPages; ++i) *reinterpret_cast<volatile uint64_t*>(base + i * kPage) = i + 1;
    const int64_t pid = user::fork();
    if (pid < 0) return 11;
    if (pid > 0) return 0;  // the parent ends; the child is an orphan
    user::yield();          // make sure the parent has gone (it had nothing left to do)
    uint64_t same = 0;
    for (uint64_t i = 0; i < kPages; ++i) {
        volatile uint64_t* p = reinterpret_cast<volatile uint64_t*>(base + i * kPage);
        same += *p == i + 1;
        *p = 50 + i;
    }
    user::Text().add("orphan wrote=").dec(kPages).add(" unchanged-before=").dec(same).add(" base=").hex(uint64_t(base))
        .print();
    return same == kPages ? 0 : 1;
}

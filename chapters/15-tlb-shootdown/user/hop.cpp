// Chapter 15's program: one process whose pages change while other CPUs
// still cache them. Each of its turns runs on the next CPU, and a CPU whose
// turn ended keeps the process's tables loaded, TLB and all.
//   spread  8 turns, each writing pages 0-3, so every CPU that runs the
//           process (up to 8) caches their translations, writable;
//   change  2 turns, one after the other (so with two CPUs one of them is
//           the BSP's, while the AP keeps the tables): turn k replaces page k
//           with a fresh one (munmap, then mmap at the same address) and
//           takes page k + 2's write right away (mprotect);
//   check   8 turns, each reading pages 0 and 1.
// A fresh page reads 0. A CPU that still held a page's old translation would
// read the old frame's value instead, so the program counts every such stale
// read and ends with 1 if it saw one.
#include "user/memory.h"
#include "user/process.h"
#include "user/text.h"

constexpr uint64_t kPages = 4, kPage = 4096, kTurns = 8, kReplaced = 2;

volatile uint64_t* page(int64_t base, uint64_t i) { return reinterpret_cast<volatile uint64_t*>(base + i * kPage); }

int main() {
    const int64_t base = user::mmap(0, kPages * kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
    if (base < 0) return 10;
    user::Text().add("pages=").dec(kPages).add(" base=").hex(uint64_t(base)).print();

    for (uint64_t turn = 0; turn < kTurns; ++turn) {  // spread
        for (uint64_t i = 0; i < kPages; ++i) *page(base, i) = 0x1000 * (i + 1) + turn;
        user::yield();
    }
    for (uint64_t k = 0; k < kReplaced; ++k) {  // change
        const uint64_t va = uint64_t(base) + k * kPage;
        if (user::munmap(va, kPage) != 0) return 11;
        if (user::mmap(va, kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous | abi::kMapFixed) != int64_t(va))
            return 12;
        if (user::mprotect(uint64_t(base) + (k + 2) * kPage, kPage, abi::kProtRead) != 0) return 13;
        user::yield();
    }
    uint64_t stale = 0;
    for (uint64_t turn = 0; turn < kTurns; ++turn) {  // check
        for (uint64_t k = 0; k < kReplaced; ++k) stale += *page(base, k) != 0;
        user::yield();
    }
    user::Text().add("hop turns=").dec(2 * kTurns + kReplaced).add(" replaced=").dec(kReplaced)
        .add(" read-only=").dec(kReplaced).add(" stale=").dec(stale).print();
    return stale == 0 ? 0 : 1;
}

// Chapter 15's program: one process whose pages change while other CPUs
// still cache them. Each of its turns runs on the next CPU, and an AP whose
// turn ended keeps the process's tables loaded, TLB and all. Two rounds of:
//   spread  10 turns, each writing pages r and r + 2, so every CPU that
//           runs the process (up to 8) caches both translations, writable;
//   change  one turn takes page r + 2's write right (mprotect) and replaces
//           page r with a fresh one (munmap, then mmap at the same address,
//           not touched yet);
//   check   the next turn, on the next CPU, reads page r first thing.
// A fresh page reads 0. A CPU that still held page r's old translation would
// read the old frame instead, still holding what the spread wrote: nothing
// has been allocated since the munmap freed it. The program counts such
// reads and ends with 1 if it saw one. The rounds' checks come 11 turns
// apart, a prime: on 2 to 8 CPUs they land on two different CPUs, so at
// least one of them is an AP.
#include "user/memory.h"
#include "user/process.h"
#include "user/text.h"

constexpr uint64_t kPages = 4, kPage = 4096, kRounds = 2, kSpread = 10;

volatile uint64_t* page(int64_t base, uint64_t i) { return reinterpret_cast<volatile uint64_t*>(base + i * kPage); }

int main() {
    const int64_t base = user::mmap(0, kPages * kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
    if (base < 0) return 10;
    user::Text().add("pages=").dec(kPages).add(" base=").hex(uint64_t(base)).print();

    uint64_t stale = 0;
    for (uint64_t r = 0; r < kRounds; ++r) {
        for (uint64_t turn = 0; turn < kSpread; ++turn) {  // spread
            *page(base, r) = 0x1000 * (r + 1) + turn;
            *page(base, r + 2) = 0x2000 * (r + 1) + turn;
            user::yield();
        }
        const uint64_t va = uint64_t(base) + r * kPage;  // change
        if (user::mprotect(uint64_t(base) + (r + 2) * kPage, kPage, abi::kProtRead) != 0) return 11;
        if (user::munmap(va, kPage) != 0) return 12;
        if (user::mmap(va, kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous | abi::kMapFixed) != int64_t(va))
            return 13;
        user::yield();
        const uint64_t seen = *page(base, r);  // check
        stale += seen != 0;
        user::Text().add("round=").dec(r).add(" read-only-page=").dec(r + 2).add(" replaced-page=").dec(r)
            .add(" read=").hex(seen).print();
    }
    user::Text().add("hop rounds=").dec(kRounds).add(" stale=").dec(stale).print();
    return stale == 0 ? 0 : 1;
}

// Chapter 15's program: one process whose pages change while other CPUs
// still cache them. Each of its turns runs on the next CPU, and a CPU whose
// turn ended keeps the process's tables loaded, TLB and all. In each round:
//   spread  8 turns, each writing pages r and r + 2, so every CPU that runs
//           the process (up to 8) caches both translations, writable;
//   change  one turn replaces page r with a fresh one (munmap, then mmap at
//           the same address) and takes page r + 2's write right (mprotect);
//   check   8 turns, each reading page r.
// A fresh page reads 0. A CPU that still held page r's old translation would
// read the old frame's value instead, so the program counts every such stale
// read and ends with 1 if it saw one.
#include "user/memory.h"
#include "user/process.h"
#include "user/text.h"

constexpr uint64_t kPages = 4, kPage = 4096, kRounds = 2, kTurns = 8;

volatile uint64_t* page(int64_t base, uint64_t i) { return reinterpret_cast<volatile uint64_t*>(base + i * kPage); }

int main() {
    const int64_t base = user::mmap(0, kPages * kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
    if (base < 0) return 10;
    user::Text().add("pages=").dec(kPages).add(" base=").hex(uint64_t(base)).print();

    uint64_t stale = 0;
    for (uint64_t r = 0; r < kRounds; ++r) {
        for (uint64_t turn = 0; turn < kTurns; ++turn) {  // spread
            *page(base, r) = 0x1000 + turn;
            *page(base, r + 2) = 0x2000 + turn;
            user::yield();
        }
        const uint64_t va = uint64_t(base) + r * kPage;  // change
        if (user::munmap(va, kPage) != 0) return 11;
        if (user::mmap(va, kPage, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous | abi::kMapFixed) != int64_t(va))
            return 12;
        if (user::mprotect(uint64_t(base) + (r + 2) * kPage, kPage, abi::kProtRead) != 0) return 13;
        uint64_t seen_stale = 0;
        for (uint64_t turn = 0; turn < kTurns; ++turn) {  // check
            user::yield();
            seen_stale += *page(base, r) != 0;
        }
        stale += seen_stale;
        user::Text().add("round=").dec(r).add(" replaced-page=").dec(r).add(" read-only-page=").dec(r + 2)
            .add(" stale-reads=").dec(seen_stale).print();
    }
    user::Text().add("hop rounds=").dec(kRounds).add(" stale=").dec(stale).print();
    return stale == 0 ? 0 : 1;
}

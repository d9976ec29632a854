// Hostile: writes a page, makes it read-only with mprotect, writes it again.
// The page is present and was writable a moment ago: only because mprotect
// rewrote the entry *and* invalidated the TLB's copy does the second write
// fault (present=yes) instead of going through a stale translation.
#include "user/memory.h"

int main() {
    const int64_t page = user::mmap(0, 4096, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
    if (page < 0) return 1;
    volatile uint64_t* p = reinterpret_cast<volatile uint64_t*>(page);
    *p = 1;
    if (user::mprotect(uint64_t(page), 4096, abi::kProtRead) != 0) return 2;
    *p = 2;
    return 0;
}

// Hostile: maps an anonymous region read-write and jumps into it. The region
// has no PROT_EXEC, so the instruction fetch is refused at the first touch.
#include "user/memory.h"

int main() {
    const int64_t code = user::mmap(0, 4096, abi::kProtRead | abi::kProtWrite | abi::kMapAnonymous);
    if (code < 0) return 1;
    reinterpret_cast<void (*)()>(code)();
    return 0;
}

// Hostile: runs code from its stack. The stack is mapped RW-NX: fetching an
// instruction from it is a page fault (I/D set) on a present page.
#include "user/user.h"

int main() {
    volatile uint8_t code[16] = {0xC3};  // ret
    auto run = reinterpret_cast<void (*)()>(reinterpret_cast<uintptr_t>(code));
    run();
    return 0;
}

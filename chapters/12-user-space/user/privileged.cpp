// Hostile: executes HLT, an instruction only ring 0 may execute. The CPU
// raises #GP, which has no IST stack of its own: it is delivered on the
// stack TSS.RSP0 names, the kernel stack the program was entered from, so
// this program is also the test that RSP0 is right.
#include "user/user.h"

int main() {
    asm volatile("hlt");
    return 0;
}

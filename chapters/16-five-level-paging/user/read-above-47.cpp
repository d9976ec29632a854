// Hostile: reads 2^47, the first address above the 47-bit user half. What
// stops it depends on the depth, which the program cannot know: at four
// levels the address is not canonical, so the CPU refuses it before any
// table is walked (#GP, no address); at five levels it is canonical, the
// walk finds nothing under the process's PML5 entry 0 above its user half,
// and it is a page fault the kernel names (kernel-memory, at 2^47).
#include "user/user.h"

int main() {
    return int(*reinterpret_cast<volatile uint64_t*>(uint64_t(1) << 47));
}

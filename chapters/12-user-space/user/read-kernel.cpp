// Hostile: reads kernel memory. The phys-offset window is mapped in every
// process (the upper half is the kernel's), but without the U/S bit: a read
// from ring 3 is a page fault on a present page, a protection violation.
#include "user/user.h"

int main() {
    // 1 MiB into the phys-offset window: RAM on every PC, mapped supervisor-only.
    volatile const uint64_t* kernel = reinterpret_cast<const uint64_t*>(0xFFFF'8000'0010'0000ull);
    return int(*kernel);
}

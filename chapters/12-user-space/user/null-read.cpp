// Hostile: reads address 0. Nothing is mapped in the first 4 MiB of a
// process (user.ld, and the user-ELF reader refuses segments there), so
// this is a page fault the kernel reports as a null-page access.
#include "user/user.h"

int main() {
    volatile const uint64_t* null = nullptr;
    return int(*null);
}

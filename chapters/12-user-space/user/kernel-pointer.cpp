// Hostile: asks the kernel to write out kernel memory, by passing a kernel
// address to write. The kernel checks every user pointer against the user
// limit before it touches it, so this is refused without a single access.
#include "user/user.h"

int main() {
    user::write(1, reinterpret_cast<const void*>(0xFFFF'FFFF'8000'1000ull), 16);  // the kernel's text
    return 0;
}

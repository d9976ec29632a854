// Hostile: passes write a pointer below the user limit that nothing maps.
// The range check lets it through; the copy faults in the kernel, and the
// exception table turns the fault into an error instead of a kernel panic.
#include "user/user.h"

int main() {
    user::write(1, reinterpret_cast<const void*>(0x0000'1000'0000'0000ull), 16);
    return 0;
}

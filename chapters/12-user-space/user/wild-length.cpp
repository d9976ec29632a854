// Hostile: a real buffer with a length that runs it past the user limit (and
// would wrap around the address space if added carelessly).
#include "user/user.h"

int main() {
    static const char text[] = "a short buffer";
    user::write(1, text, ~uint64_t(0) - 8);
    return 0;
}

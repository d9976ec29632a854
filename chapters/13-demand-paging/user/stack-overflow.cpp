// Hostile: recurses without end, 1 KiB a call. The stack grows down to its
// limit (256 KiB), and the next page is in the guard gap below it.
#include "user/user.h"

namespace {

volatile uint64_t g_depth = ~uint64_t(0);  // never reached

__attribute__((noinline)) uint64_t deeper(uint64_t n) {
    volatile uint8_t frame[1024];
    frame[0] = uint8_t(n);
    frame[1023] = uint8_t(n);
    if (n + 1 >= g_depth) return frame[0];
    return deeper(n + 1) + frame[1023];
}

}  // namespace

int main() { return int(deeper(0)); }

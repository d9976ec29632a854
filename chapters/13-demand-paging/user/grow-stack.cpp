// Well-behaved: uses 96 KiB of stack, six times what a program starts with
// (16 KiB), and well under the 256 KiB the stack may grow to. Each page below
// the first 16 KiB is a fault that grows the stack region down.
#include "user/text.h"

namespace {

volatile uint64_t g_depth = 96;

__attribute__((noinline)) uint64_t deeper(uint64_t n) {
    volatile uint8_t frame[1024];
    frame[0] = uint8_t(n);
    frame[1023] = uint8_t(n);
    if (n + 1 >= g_depth) return frame[0];
    return deeper(n + 1) + frame[1023];
}

}  // namespace

int main() {
    const uint64_t sum = deeper(0);
    user::Text().add("depth=").dec(g_depth).add(" frame-bytes=1024 sum=").dec(sum).print();
    return 0;
}

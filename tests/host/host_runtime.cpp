// What the kernel runtime provides to common/ code, for the host test binary.
#include <cstdio>
#include <cstdlib>

#include "support/assert.h"

// The kernel panics; here the test process dies, which EXPECT_DEATH can watch.
void kassert_failed(const char* expression, const char* file, int line) {
    std::fprintf(stderr, "%s file=%s line=%d\n", expression, file, line);
    std::abort();
}

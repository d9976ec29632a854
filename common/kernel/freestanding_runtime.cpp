// What the compiler may call on its own in a freestanding C++ kernel.
//
// GCC emits calls to memcpy/memset/memmove/memcmp even with -ffreestanding
// (for struct copies and zeroing loops), and C++ needs a few ABI hooks. The
// string functions use `rep movsb`/`rep stosb` in assembly so that the compiler
// cannot turn their own loops back into calls to themselves.
#include <stddef.h>
#include <stdint.h>

#include "kernel/panic.h"

extern "C" {

void* memcpy(void* destination, const void* source, size_t count) {
    void* d = destination;
    asm volatile("rep movsb" : "+D"(d), "+S"(source), "+c"(count) : : "memory");
    return destination;
}

void* memset(void* destination, int value, size_t count) {
    void* d = destination;
    asm volatile("rep stosb" : "+D"(d), "+c"(count) : "a"(value) : "memory");
    return destination;
}

void* memmove(void* destination, const void* source, size_t count) {
    auto* d = static_cast<uint8_t*>(destination);
    auto* s = static_cast<const uint8_t*>(source);
    if (d <= s || d >= s + count) return memcpy(destination, source, count);
    // Overlapping with the destination above the source: copy backwards.
    d += count - 1;
    s += count - 1;
    asm volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(count) : : "memory");
    return destination;
}

int memcmp(const void* a, const void* b, size_t count) {
    auto* x = static_cast<const uint8_t*>(a);
    auto* y = static_cast<const uint8_t*>(b);
    for (size_t i = 0; i < count; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

// A call through a pure virtual function: a destroyed or half-built object.
void __cxa_pure_virtual() { kernel::panic("pure virtual function called"); }

// The kernel never returns, so destructors of globals never need to run.
void* __dso_handle = nullptr;
int __cxa_atexit(void (*)(void*), void*, void*) { return 0; }

}  // extern "C"

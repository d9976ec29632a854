// The user runtime (chapter 12 on): what a program needs to talk to the
// kernel, and nothing else. There is no libc: a program includes this, defines
// `int main()`, and crt0.S calls it and passes its result to exit().
//
// Each call is one SYSCALL (abi/syscalls.h): number in RAX, arguments in RDI,
// RSI, RDX; RCX and R11 are the CPU's (return RIP and RFLAGS), so they are
// clobbered, and so is memory, since the kernel may read what we point at.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/syscalls.h"

namespace user {

inline int64_t syscall3(abi::Syscall number, uint64_t a, uint64_t b, uint64_t c) {
    int64_t result;
    asm volatile("syscall"
                 : "=a"(result)
                 : "a"(uint64_t(number)), "D"(a), "S"(b), "d"(c)
                 : "rcx", "r11", "memory");
    return result;
}

inline int64_t write(int fd, const void* buffer, uint64_t count) {
    return syscall3(abi::Syscall::kWrite, uint64_t(fd), reinterpret_cast<uint64_t>(buffer), count);
}

[[noreturn]] inline void exit(int code) {
    syscall3(abi::Syscall::kExit, uint64_t(int64_t(code)), 0, 0);
    __builtin_unreachable();  // the kernel never returns from exit
}

inline int64_t getpid() { return syscall3(abi::Syscall::kGetPid, 0, 0, 0); }

inline uint64_t length(const char* text) {
    uint64_t n = 0;
    while (text[n] != '\0') ++n;
    return n;
}

// write(1, text): the console, one line of the kernel's log.
inline int64_t print(const char* text) { return write(1, text, length(text)); }

}  // namespace user

int main();

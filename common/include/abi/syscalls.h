// The system-call interface between user programs and the kernel (chapter 12
// on), defined once for both sides: the user runtime (common/user/user.h)
// and the kernel's dispatcher (mm/kernel/syscalls.cpp).
//
// The calling convention is the x86-64 Linux one, because the SYSCALL
// instruction dictates most of it (SDM Vol. 2B, SYSCALL): the number in RAX,
// arguments in RDI, RSI, RDX; the CPU puts the return address in RCX and
// RFLAGS in R11, so those two are clobbered; the result comes back in RAX, a
// negative value being an error code.
#pragma once

#include <stdint.h>

namespace abi {

enum class Syscall : uint64_t {
    kWrite = 1,   // write(fd, buffer, count) -> bytes written: fd 1 is the console
    kExit = 2,    // exit(code): does not return
    kGetPid = 3,  // getpid() -> the process id
};

// Error results, negated (the values are Linux's, so they read familiar).
inline constexpr int64_t kErrorBadFd = 9;           // EBADF: write to anything but fd 1
inline constexpr int64_t kErrorInvalid = 22;        // EINVAL: a count above kMaxWriteBytes
inline constexpr int64_t kErrorNoSuchCall = 38;     // ENOSYS: an unknown number

// The most one write may carry: one log line's worth.
inline constexpr uint64_t kMaxWriteBytes = 256;

}  // namespace abi

// The process system calls (chapter 14 on), beside abi/syscalls.h and
// abi/memory_syscalls.h: numbers and errors, for the user runtime
// (common/user/process.h) and the kernel (mm/kernel/process_syscalls.cpp).
//
//   fork()        -> the child's pid in the parent, 0 in the child, or -error
//   yield()       -> 0, after every other runnable process has had a turn
//   wait(status)  -> the pid of a child that ended, its exit code written to
//                    *status (a killed child: -1) unless status is 0; waits
//                    while children run; -ECHILD with none
#pragma once

#include <stdint.h>

namespace abi {

enum class ProcessSyscall : uint64_t {
    kFork = 7,
    kYield = 8,
    kWait = 9,
};

inline constexpr int64_t kErrorNoChild = 10;   // ECHILD: wait with no child to wait for
inline constexpr int64_t kErrorAgain = 11;     // EAGAIN: fork with the process table full
inline constexpr int64_t kErrorFault = 14;     // EFAULT: wait's status pointer could not be written
// kErrorNoMemory (12, abi/memory_syscalls.h): fork with no frames for the child's tables

}  // namespace abi

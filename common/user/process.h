// fork, yield and wait for user programs (chapter 14 on): one SYSCALL each
// (abi/process_syscalls.h). A negative result is -errno.
#pragma once

#include "abi/process_syscalls.h"
#include "user/user.h"

namespace user {

inline int64_t fork() { return syscall3(abi::Syscall(abi::ProcessSyscall::kFork), 0, 0, 0); }

inline int64_t yield() { return syscall3(abi::Syscall(abi::ProcessSyscall::kYield), 0, 0, 0); }

inline int64_t wait(int64_t* status) {
    return syscall3(abi::Syscall(abi::ProcessSyscall::kWait), reinterpret_cast<uint64_t>(status), 0, 0);
}

}  // namespace user

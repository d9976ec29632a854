// mmap, munmap and mprotect for user programs (chapter 13 on): one SYSCALL
// each (abi/memory_syscalls.h). A negative result is -errno.
#pragma once

#include "abi/memory_syscalls.h"
#include "user/user.h"

namespace user {

inline int64_t mmap(uint64_t address, uint64_t length, uint64_t prot_and_flags) {
    return syscall3(abi::Syscall(abi::MemorySyscall::kMmap), address, length, prot_and_flags);
}

inline int64_t munmap(uint64_t address, uint64_t length) {
    return syscall3(abi::Syscall(abi::MemorySyscall::kMunmap), address, length, 0);
}

inline int64_t mprotect(uint64_t address, uint64_t length, uint64_t prot) {
    return syscall3(abi::Syscall(abi::MemorySyscall::kMprotect), address, length, prot);
}

}  // namespace user

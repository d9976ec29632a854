// The memory system calls (chapter 13 on), beside abi/syscalls.h: numbers,
// the PROT_*/MAP_* bits and the errors, for the user runtime
// (common/user/memory.h) and the kernel (mm/kernel/memory_syscalls.cpp).
//
// SYSCALL passes three arguments here (kernel/user_mode.h), so mmap takes
// its protection and flags in one: the values are Linux's, and PROT_* (bits
// 0-2) and MAP_* (bits 4-5) do not overlap.
//
//   mmap(address, length, prot | flags)  -> the start, or -error
//   munmap(address, length)              -> 0, or -error
//   mprotect(address, length, prot)      -> 0, or -error
#pragma once

#include <stdint.h>

namespace abi {

enum class MemorySyscall : uint64_t {
    kMmap = 4,
    kMunmap = 5,
    kMprotect = 6,
};

inline constexpr uint64_t kProtRead = 1, kProtWrite = 2, kProtExec = 4;
inline constexpr uint64_t kMapFixed = 0x10;      // exactly at `address`; refused (EEXIST) if anything is there
inline constexpr uint64_t kMapAnonymous = 0x20;  // zeroes: the only kind mmap offers

inline constexpr int64_t kErrorNoMemory = 12;  // ENOMEM: out of range, no room, or (mprotect) a hole in the range
inline constexpr int64_t kErrorAccess = 13;    // EACCES: text made writable, or anything else executable
inline constexpr int64_t kErrorExists = 17;    // EEXIST: MAP_FIXED over a region that is there
// kErrorInvalid (22, abi/syscalls.h): unaligned, zero length, bad prot or flags

}  // namespace abi

// mmap, munmap and mprotect (chapter 13; numbers, bits and errors in
// abi/memory_syscalls.h), in front of chapter 12's system calls, which get
// every other number. Each argument is checked before anything changes, and
// a refusal names it and returns -error (the program goes on):
//   [WARN  vm] refused pid=… name=… call=mmap field=length value=0x0 rule="…" returns=-22
//
//   mmap      MAP_ANONYMOUS only, PROT_READ always, never PROT_EXEC (EACCES:
//             only the program's text is executable, since every other
//             frame is writable in the kernel's window);
//             address and length 4 KiB aligned, length not zero, the range
//             inside [4 MiB, the user limit) without wrapping; MAP_FIXED is
//             exactly there or EEXIST (never replaces, as MAP_FIXED_NOREPLACE),
//             else the kernel chooses (address must be 0). Maps nothing: the
//             pages come on first touch.
//       [INFO  vm] mmap pid=… start=0x… length=0x… prot=rw- fixed=no
//   munmap    the same range rules; parts with no region are fine (POSIX:
//             it "is not an error if the range contains no mapped pages", so
//             a program can release a range without knowing what it holds);
//             every present page comes off, one INVLPG each, then its frame
//             and every table it left empty go back.
//       [INFO  vm] munmap pid=… start=0x… length=0x… pages=… tables=… borrowed=… invlpg=…
//   mprotect  the same rules, every page in a region (ENOMEM otherwise, as
//             POSIX says), no file region made writable and nothing else
//             executable (EACCES); only the
//             present pages whose flags change are rewritten and invalidated.
//       [INFO  vm] mprotect pid=… start=0x… length=0x… prot=r-- changed=… invlpg=…
#pragma once

#include <stdint.h>

#include "kernel/user_mode.h"

namespace mm {

// The handler kernel::install_user_mode() calls: the memory calls here, the
// rest to chapter 12's handle_syscall (syscalls.h). At a write, the tests'
// hold point vm.hold=NAME (vm_hold.h).
int64_t handle_memory_syscall(kernel::SyscallFrame& frame);

}  // namespace mm

// The system calls (chapter 12; numbers and errors in abi/syscalls.h), with
// every argument checked before it is used, and user pointers copied in
// through copy_from_user only.
//
//   write(fd, buffer, count)  fd must be 1 (the console: one log line,
//                             [INFO  user] write pid=… bytes=… text="…");
//                             buffer + count below the user limit, else the
//                             program is killed (rule=bad-user-pointer); count
//                             at most kMaxWriteBytes, else -EINVAL; a copy that
//                             faults kills it too (rule=user-pointer-fault)
//   exit(code)                ends the program: [INFO  user] exit … code=…
//   getpid()                  its pid
//   anything else             -ENOSYS, and a refusal logged
#pragma once

#include <stdint.h>

#include "kernel/user_mode.h"
#include "support/violation.h"

namespace mm {

// The handler kernel::install_user_mode() calls for every SYSCALL.
int64_t handle_syscall(kernel::SyscallFrame& frame);

// book:begin copy-from-user
// Copies `bytes` from the program's `user_address` into `to`: the range is
// checked against the user limit first (check_user_range), and a page fault
// during the copy is caught by the exception table and comes back as a
// violation naming the address, never as a kernel fault.
Violation copy_from_user(void* to, uint64_t user_address, uint64_t bytes, uint64_t* fault_address);
// The other direction, checked the same way.
Violation copy_to_user(uint64_t user_address, const void* from, uint64_t bytes, uint64_t* fault_address);
// book:end copy-from-user

}  // namespace mm

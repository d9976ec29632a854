// fork, yield and wait (chapter 14; numbers and errors in
// abi/process_syscalls.h), in front of chapter 13's memory calls and chapter
// 12's calls, which get every other number.
//
//   fork    the child gets a copy-on-write clone of the parent's address
//           space (mm/copy_on_write.h), a copy of its regions and of the
//           registers of this very call, and returns 0 from it; the parent
//           gets the child's pid. The parent's leaves that became read-only
//           are invalidated before it runs on (the clone's WriteProtectFlush):
//       [INFO  cow] fork pid=… child=… cow=… shared-read-only=… borrowed=… child-tables=… write-protected=… invlpg=… …
//           A clone that runs out of frames undoes everything and returns
//           -ENOMEM, naming what it refused and showing nothing changed:
//       [WARN  cow] fork refused pid=… reason=out-of-frames rule="…" at=0x… used-before=… used-after=… references-before=… references-after=… returns=-12
//   yield   the next ready process runs; this one resumes at its turn.
//   wait    a child that ended is taken (its pid returned, its code written
//           to *status through copy_to_user); with children still running
//           the caller waits, and completes when one ends; -ECHILD with
//           none, -EFAULT when *status cannot be written (the child stays).
//       [INFO  sched] wait pid=… child=… code=…
#pragma once

#include <stdint.h>

#include "kernel/user_mode.h"

namespace mm {

// The handler kernel::install_user_mode() calls: fork, yield and wait here,
// the rest to chapter 13's handle_memory_syscall.
int64_t handle_process_syscall(kernel::SyscallFrame& frame);

}  // namespace mm

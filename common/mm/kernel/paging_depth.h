// Chapter 16: how many levels of tables the kernel builds, learned from the
// CPU, not chosen here.
//
// CR4.LA57 can change only with paging off (SDM Vol. 3A, 4.1.2), which a
// 64-bit kernel running at -2 GiB cannot arrange for itself: the loader has
// already done it through its 32-bit trampoline when the command line said
// `paging=5` and the CPU has LA57 (common/boot/paging_handover.h). So the
// kernel reads CR4.LA57, says what it found and why, and lets its
// KernelAddressSpace build at that depth (accept_five_level_paging).
#pragma once

#include "mm/paging_depth.h"

namespace mm {

// Before the MemoryManager is constructed:
//   [INFO  paging] levels=5 la57=yes cpu-la57=yes asked=5
//   [INFO  paging] levels=4 la57=no cpu-la57=no asked=5 why=cpu-has-no-la57
// (asked=none without paging=). Returns the depth the tables will have.
PagingDepth follow_paging_depth();

}  // namespace mm

#include "mm/kernel/temporary_window_phase.h"

#include "kernel/panic.h"

namespace mm {

void create_temporary_window(KernelAddressSpace& space, CpuTlb& tlb, TemporaryWindow& window) {
    if (!create_temporary_window(space.builder(), space.tables(), tlb, space.cpu(), window).ok()) kernel::fail();
}

}  // namespace mm

#include "mm/kernel/kernel_stacks_phase.h"

#include "mm/kernel_stacks.h"
#include "mm/mapping_policy.h"
#include "kernel/panic.h"

namespace mm {

void map_kernel_stacks(KernelAddressSpace& space) {
    if (!map_kernel_stacks(space.builder(), space.frames(), space.cpu()).ok()) kernel::fail();
}

void expect_kernel_stacks(ExpectedRegions& out, CpuPagingFeatures cpu) {
    constexpr const char* kGuards[kKernelStackCount] = {"guard-df-ist", "guard-pf-ist", "guard-nmi-ist",
                                                        "guard-mc-ist"};
    for (size_t i = 0; i < kKernelStackCount; ++i) {
        const KernelStack s = kernel_stack(i);
        out.add(expect_absent(kGuards[i], s.guard, kPageSize));
        out.add(expect_mapped_anywhere(s.name, s.bottom, kKernelStackSize, fit_to_cpu(kKernelDataPolicy, cpu)));
    }
}

kernel::IstStacks ist_stacks() {
    kernel::IstStacks out{};
    static_assert(kKernelStackCount <= 7, "seven IST slots");
    for (size_t i = 0; i < kKernelStackCount; ++i) {
        const KernelStack s = kernel_stack(i);
        out.stack[out.count++] = {s.name, s.ist, s.vector, s.top.value(), s.guard.value()};
    }
    return out;
}

}  // namespace mm

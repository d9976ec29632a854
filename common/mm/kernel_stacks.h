// Kernel stacks: the stacks the CPU switches to for the exceptions that must
// be reported even when the stack that was in use cannot be trusted (chapter 10).
//
// A page fault on the boot stack's guard page means the boot stack is full:
// if the CPU pushed the fault's frame onto it, that push would fault again,
// then the double fault's push, and the machine would reset (a triple fault).
// An interrupt gate with an IST index makes the CPU load RSP from the TSS
// instead (SDM Vol. 3A, 6.14.5), so the handler starts on a known-good stack.
//
//   layout::kKernelStacksBase (0xFFFFF00000000000), one stack after another:
//
//   + 0x00000   guard page: not mapped
//   + 0x01000   df-ist   16 KiB RW NX   IST1  #DF  (vector 8)
//   + 0x05000   guard page
//   + 0x06000   pf-ist   16 KiB RW NX   IST2  #PF  (vector 14)
//   + 0x0a000   guard page
//   + 0x0b000   nmi-ist  16 KiB RW NX   IST3  NMI  (vector 2)
//   + 0x0f000   guard page
//   + 0x10000   mc-ist   16 KiB RW NX   IST4  #MC  (vector 18)
//   + 0x14000   end
//
// Stacks grow down, so the page below a stack is the one an overflow reaches
// first: there is exactly one unmapped page below each stack. The frames come
// from the FrameSource one at a time (a stack need not be physically
// contiguous) and are mapped with 4 KiB pages.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/address_space_layout.h"
#include "mm/cpu_paging_features.h"
#include "mm/frame_source.h"
#include "mm/page_table_builder.h"
#include "mm/virt_addr.h"

namespace mm {

enum class KernelStackId : uint8_t { kDoubleFault, kPageFault, kNmi, kMachineCheck };
inline constexpr size_t kKernelStackCount = 4;
inline constexpr uint64_t kKernelStackSize = 16 * KiB;
inline constexpr uint64_t kKernelStackStride = kPageSize + kKernelStackSize;  // guard + stack

// book:begin kernel-stack
struct KernelStack {
    const char* name;  // "df-ist", "pf-ist", "nmi-ist", "mc-ist"
    uint8_t ist;       // the TSS's IST slot (1-7) that holds `top`
    uint8_t vector;    // the exception whose gate names that slot
    VirtAddr guard;    // the unmapped page below the stack
    VirtAddr bottom;   // guard + 4 KiB: the lowest mapped byte
    VirtAddr top;      // bottom + kKernelStackSize: the RSP the CPU loads (16-byte aligned)
};

constexpr KernelStack kernel_stack(KernelStackId id) {
    constexpr struct { const char* name; uint8_t vector; } kStacks[kKernelStackCount] = {
        {"df-ist", 8}, {"pf-ist", 14}, {"nmi-ist", 2}, {"mc-ist", 18}};
    const size_t i = size_t(id);
    const VirtAddr guard = layout::kKernelStacksBase + i * kKernelStackStride;
    return {kStacks[i].name, uint8_t(i + 1), kStacks[i].vector, guard, guard + kPageSize,
            guard + kPageSize + kKernelStackSize};
}
// book:end kernel-stack

constexpr KernelStack kernel_stack(size_t index) { return kernel_stack(KernelStackId(index)); }

static_assert(kernel_stack(KernelStackId::kDoubleFault).guard == layout::kKernelStacksBase);
static_assert(kernel_stack(KernelStackId::kPageFault).guard == kernel_stack(KernelStackId::kDoubleFault).top);
static_assert(kernel_stack(KernelStackId::kMachineCheck).top - layout::kKernelStacksBase ==
              kKernelStackCount * kKernelStackStride);
static_assert(kKernelStackCount * kKernelStackStride <= layout::kKernelStacksWindowSize);
static_assert(kernel_stack(KernelStackId::kNmi).top.is_aligned(16) && kernel_stack(KernelStackId::kNmi).ist == 3);


// Phase map_kernel_stacks: every stack's pages RW+NX from `frames`, its guard
// page left unmapped. Logs one `stack` line per stack and the phase line;
// on a refusal or an empty FrameSource logs why and returns the refusal
// (kOutOfTableFrames when a stack frame was missing).
MapResult map_kernel_stacks(PageTableBuilder& builder, FrameSource& frames, CpuPagingFeatures cpu);

}  // namespace mm

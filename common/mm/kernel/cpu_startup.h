// Starting the other CPUs, and giving them work (chapter 15).
//
// start_cpus() is the chapter's bring-up phase. The BSP:
//   1. reads the processors from the MADT (madt_cpus.h), itself first;
//   2. makes the IDT of cpu_interrupts.h and enables its local APIC;
//   3. per AP, maps a kernel stack and four IST stacks (kernel_stacks.h's
//      layout), each above an unmapped guard page, fills the AP's GDT and
//      TSS (per_cpu.h), points the trampoline at them (ap_trampoline.h);
//   4. sends INIT, waits 10 ms, sends a start-up IPI, waits 200 µs, sends
//      a second (SDM Vol. 3A, 8.4.4.1; the HPET counts the time,
//      hpet_clock.h), and waits for the AP to say it is online: 1 s for it
//      to start, 10 s to finish once it has.
// One AP at a time: they share the trampoline page. An AP that does not
// answer is named with how far it got, and the boot goes on without it:
//   [WARN  smp] cpu silent index=3 apic-id=3 stage=0 entered=no rule="must start within 1s of INIT-SIPI-SIPI and be online within 10s"
// and gets an INIT again, so it cannot wake later on a trampoline armed for another.
//
//   layout::kKernelStacksBase + 1 MiB + (index - 1) * 128 KiB, per AP:
//   + 0x00000 … 0x14000   df/pf/nmi/mc IST stacks, as chapter 10 lays them out
//   + 0x14000             guard page
//   + 0x15000 … 0x19000   the AP's kernel stack (16 KiB), where it starts
//
// Then every AP sits in its idle loop (HLT with IF set) until run_on()
// hands it a function through its PerCpu mailbox and wakes it with an IPI.
#pragma once

#include <stdint.h>

#include "mm/bitmap_frame_allocator.h"
#include "mm/cpu_mask.h"
#include "mm/kernel/address_space.h"
#include "mm/kernel/ap_trampoline.h"
#include "mm/kernel/hpet_clock.h"
#include "mm/kernel/local_apic.h"
#include "mm/kernel/per_cpu.h"
#include "mm/mmio_map.h"

namespace mm {

inline constexpr VirtAddr kCpuStacksBase = layout::kKernelStacksBase + 1 * MiB;
inline constexpr uint64_t kCpuStacksStride = 128 * KiB;

struct OnlineCpus {
    unsigned count = 1;       // the BSP, and the APs that answered
    unsigned expected = 1;    // enabled processors the MADT lists (or 1)
    CpuMask mask = CpuMask::only(0);
    LocalApic apic;
    HpetClock clock;          // started when there are APs to start
};

// The phase. Logs each CPU listed, each online (index, APIC ID, stack, GS
// base), each silent one, and
//   [INFO  smp] cpus online=4 expected=4
OnlineCpus start_cpus(KernelAddressSpace& space, const MmioDevices& devices, BitmapFrameAllocator& frames,
                      const Trampoline& trampoline);

// The CPUs online, once start_cpus() ran.
const OnlineCpus& online_cpus();

// Runs `work(arg)` on CPU `index` (the BSP: here) and returns when it has
// finished. IF is set on the calling CPU while it waits, so it can answer a
// shootdown the work sends.
void run_on(unsigned index, CpuWork work, void* arg);

// The same in two halves, for work that runs while this CPU does something
// else: start_on() hands it to AP `index` and returns at once, finish_on()
// waits (IF set) until it is done. Kernel work that takes 10 s is a bug,
// named and fatal; a program's turn (kUntimed) lasts until its next system
// call, however long that is.
inline constexpr bool kUntimed = false;
uint64_t start_on(unsigned index, CpuWork work, void* arg);
void finish_on(unsigned index, uint64_t ticket, bool timed = true);

// Ring 3 on every CPU, once kernel::install_user_mode() ran on the BSP. The
// APs start before user mode exists (this chapter's phases need them first),
// and SYSCALL should lead nowhere until a handler is behind it, so ring 3 is
// a second step, handed to each online AP through its mailbox (run_on): it
// installs its own SYSCALL MSRs (kernel::install_syscall_msrs, MSRs are per
// CPU) and reads back what ring 3 relies on, which must be the BSP's. Its GDT
// has the user segments since bring-up (build_cpu_tables). From here on
// TSS.RSP0 is found per CPU (kernel::set_rsp0_slot_source). Logs per AP
//   [INFO  smp] cpu ring3 index=1 star=0x… lstar=0x… fmask=0x… sce=yes smap=yes smep=yes osfxsr=yes …
// and [INFO  smp] ring3 cpus=N; an AP that differs from the BSP is named
// with the field (ERROR) and the kernel fails: a bug of the bring-up.
void prepare_cpus_for_ring3();

// Runs `wait()` with IF set, restoring the caller's IF after: how a CPU
// waits for another without missing an IPI meant for it.
template <typename Wait>
void wait_with_interrupts(Wait wait) {
    uint64_t flags;
    asm volatile("pushfq; pop %0; sti" : "=r"(flags) : : "memory");
    wait();
    if (!(flags & (1u << 9))) asm volatile("cli" ::: "memory");
}

}  // namespace mm

// The kernel's shootdown: ShootdownBatch's transport over IPIs, and the
// address spaces whose loaded CPUs it tracks (chapter 15).
//
// send_and_wait() publishes the request, sends the shootdown vector to
// each target (one fixed IPI per CPU, by APIC ID) and spins until each
// target's bit is in the acknowledgement set. A target's handler
// (cpu_interrupts.h) carries the request out — INVLPG per page, or a CR3
// reload for a full flush — counts it in its PerCpu and sets its bit.
// One shootdown is in flight at a time (a lock, taken with IF set so the
// CPU waiting for it still answers the holder's IPI).
#pragma once

#include "mm/kernel/local_apic.h"
#include "mm/kernel/per_cpu.h"
#include "mm/kernel/process_tlb.h"
#include "mm/shootdown_batch.h"
#include "mm/user_address_space.h"

namespace mm {

class IpiShootdown final : public ShootdownTransport {
public:
    void invalidate_here(const FlushRequest& request) override;
    void send_and_wait(CpuMask targets, const FlushRequest& request) override;

    uint64_t ipis_sent() const { return ipis_sent_; }

private:
    uint64_t ipis_sent_ = 0;
};

// Asks each CPU of `targets` to leave `tables`, a process's tables it keeps
// loaded after its turn (process_cpus.h): the CPU loads the kernel's CR3,
// which drops every user translation, and clears its bit. A target that no
// longer keeps them reloads its CR3 all the same. Returns the IPIs sent, once
// every target has answered.
uint64_t send_leave_and_wait(CpuMask targets, ProcessTlb& tables);

// An address space several CPUs may run: its tables and who has it loaded.
struct SharedSpace {
    UserAddressSpace& space;
    LoadedCpus cpus;
};

// On the executing CPU: joins `shared` (its bit, then its CR3) or leaves it
// for the kernel's tables (CR3, then its bit).
void load_shared_space(SharedSpace& shared);
void leave_shared_space(SharedSpace& shared, PhysAddr kernel_root);

// After a demonstration (the stale read, the script): every frame it took,
// pages and tables, is back in the allocator; one missing ends the boot.
//   [INFO  tlb] frames back after=script used-before=… used-after=… balanced=yes
void log_frames_back(const char* after, uint64_t used_before, uint64_t used_after);

// Reads the 8 bytes at `va` of the loaded shared space from ring 0: its
// pages are user pages, so with SMAP on the read sits between STAC and CLAC
// (SDM Vol. 3A, 4.6.1), as a copy from user memory does.
uint64_t read_shared_u64(VirtAddr va);

// Sums of every online CPU's shootdown counters (per_cpu.h).
struct ShootdownCounters {
    uint64_t received = 0;  // shootdown IPIs handled
    uint64_t pages = 0;     // INVLPGs they executed
    uint64_t full = 0;      // CR3 reloads they executed
};
ShootdownCounters shootdown_counters();

}  // namespace mm

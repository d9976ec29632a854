// The interrupts chapter 15 takes: its IPIs (chapter 15).
//
// Until now the kernel has taken no interrupt at all: every IDT gate is an
// exception, IF has stayed clear since the entry stub's CLI, and the legacy
// PIC and the IOAPIC were left as the firmware left them. IPIs change that:
// a CPU asked to invalidate its TLB learns of it through an interrupt. So:
//   - the IDT grows from 32 to 256 gates: the exception gates as they are
//     (same stubs, same IST slots), plus a gate for each vector of
//     local_apic.h; every other gate stays not-present, so a stray vector
//     is reported as a #NP fault, not run;
//   - both 8259 PICs are masked (OCW1 = 0xFF on ports 0x21 and 0xA1), so
//     the firmware's timer cannot arrive as a vector that overlaps an
//     exception once IF is set; the IOAPIC's entries the firmware leaves
//     masked after ExitBootServices, and nothing here unmasks one;
//   - each CPU software-enables its local APIC (SVR) and sets IF only
//     where it waits for another CPU: in its idle loop, while it runs
//     mailbox work, and on the BSP for the chapter's phases, which end
//     with IF clear again, so the programs that follow run as before;
//   - a handler ends with an EOI (the spurious vector has none: SDM Vol.
//     3A, 10.9).
#pragma once

#include <stdint.h>

#include "mm/kernel/local_apic.h"

namespace mm {

// Builds the 256-gate IDT from the live one (SIDT: chapter 10's gates),
// masks the PICs, loads the IDT on this CPU. Logs
//   [INFO  smp] idt vectors=256 exceptions=32 shootdown=0xf0 wake=0xf1 spurious=0xff pic=masked
void install_interrupt_gates(const LocalApic& apic);

// On an AP: loads the same IDT.
void load_interrupt_gates();

// What the shootdown vector's handler calls (tlb_shootdown.cpp).
void handle_shootdown_ipi();

}  // namespace mm

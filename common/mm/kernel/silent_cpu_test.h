// The test hooks for a CPU that never answers (chapter 15).
//
// `test.silent-cpu=<apic-id>` makes the bring-up send that CPU its INIT but
// never a SIPI, so it stays in wait-for-SIPI exactly like a processor that
// is broken, or listed but absent: the bring-up must wait out its 1 s, send
// INIT again, name it and go on with the others.
// `test.stalled-cpu=<apic-id>` lets that CPU start and reach the kernel, and
// stops it there (CLI, a loop) with its own GDT and IDT but still on the
// trampoline's tables, before it is online, like a CPU that hangs on the way:
// the bring-up must wait out the 10 s a started CPU gets, send INIT, which
// takes it off the trampoline's tables for good, name it and start the next
// CPU on the same trampoline (tests/test_15_tlb_shootdown.py).
#pragma once

#include <stdint.h>

namespace mm {

// True when the command line asks to keep the CPU with this APIC ID silent
// (logged once per CPU it silences).
bool test_keeps_cpu_silent(uint32_t apic_id);

// True when the command line asks to stall the CPU with this APIC ID; asked
// by that CPU itself, in ap_entry, so it does not log.
bool test_stalls_cpu(uint32_t apic_id);

// On that CPU: says so in its PerCpu (the BSP logs it) and spins, interrupts
// off, until the INIT.
struct PerCpu;
[[noreturn]] void stall_on_request(PerCpu& cpu);

}  // namespace mm

// The test hook for a CPU that never answers (chapter 15).
//
// `test.silent-cpu=<apic-id>` makes the bring-up send that CPU its INIT but
// never a SIPI, so it stays in wait-for-SIPI exactly like a processor that
// is broken, or listed but absent: the bring-up must wait out its 1 s, send
// INIT again, name it and go on with the others
// (tests/test_15_tlb_shootdown.py).
#pragma once

#include <stdint.h>

namespace mm {

// True when the command line asks to keep the CPU with this APIC ID silent
// (logged once per CPU it silences).
bool test_keeps_cpu_silent(uint32_t apic_id);

}  // namespace mm

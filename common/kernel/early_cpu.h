// The kernel's own GDT and a catch-all IDT, installed before anything else.
//
// The firmware's GDT and IDT live in boot-services memory that the kernel will
// reclaim, and the firmware's exception handlers print a dump and spin forever.
// So the kernel loads a GDT of its own (null, 64-bit code, data) and an IDT
// whose 32 exception vectors all report the fault (vector, error code, RIP,
// CR2) and exit with the failure code: a bug never hangs and never triple-faults
// silently. Chapter 10 replaces the catch-all with decoded handlers and IST stacks.
#pragma once

#include <stdint.h>

namespace kernel {

inline constexpr uint16_t kKernelCodeSelector = 0x08;
inline constexpr uint16_t kKernelDataSelector = 0x10;

void install_early_cpu_state();

}  // namespace kernel

// The CPU's own protections for kernel memory, switched on for every chapter.
//
//  - CR0.WP: supervisor writes honour read-only pages (set by the loader);
//  - EFER.NXE: the NX bit of page entries is honoured (set by the loader when
//    the CPU has NX);
//  - CR4.SMEP: the kernel may not execute a user-accessible page;
//  - CR4.SMAP: the kernel may not read or write a user-accessible page unless
//    it says so (stac/clac).
//
// Until chapter 12 the kernel maps no user page at all, so SMEP and SMAP
// change nothing it does on purpose; they turn a mistake (a user page reached
// by accident) into a fault instead of a silent hole. From chapter 12 on the
// user copy lifts SMAP for its one instruction (kernel/user_mode.h). Enabled when CPUID reports
// them, and logged:  [INFO  cpu] protections wp=yes nxe=yes smep=yes smap=yes
#pragma once

namespace kernel {

void enable_cpu_protections();

}  // namespace kernel

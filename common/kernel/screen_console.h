// The screen console: every klog line of the kernel, also on the GOP
// framebuffer, for machines without a serial port to read (README.md,
// "On a real PC").
//
// The framebuffer is device memory, reachable only where the page tables in
// CR3 map it, so the console draws through an address that is valid under one
// CR3 and checks CR3 before each line:
//   - kernel_start starts it on the loader's bootstrap tables, which
//     identity-map the framebuffer: it draws at the physical address.
//   - When the kernel loads tables of its own, the first line logged after
//     the switch finds a new CR3. If the phase that mapped the framebuffer
//     into those tables announced where (screen_follows_mapping, chapter 06's
//     map_framebuffer), the console draws there from then on and logs
//     `[INFO  screen] moved`. If none did (chapters 04 and 05 map RAM only),
//     it logs `[INFO  screen] serial only` with the reason, and the log goes
//     on on COM1 alone; the screen keeps the lines drawn before the switch.
// It never draws while it is drawing (a fault inside the drawing code would
// otherwise re-enter it from the fault's report); that line stays serial only.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "boot/handoff.h"
#include "support/log.h"

namespace kernel {

// Clears the screen and draws from here on, or logs why it cannot (no linear
// framebuffer; a refused geometry, named field by field).
void start_screen_console(const boot::BootHandoff& handoff);

// Where the framebuffer's first pixel lies in the tables whose PML4 is at
// `pml4` (physical), and how many bytes from there the mapping can cover: the
// console draws there once CR3 holds that PML4, if what it draws fits.
void screen_follows_mapping(uint64_t pml4, uint64_t framebuffer_va, uint64_t mapped_bytes);

// Tables whose PML4 at `pml4` shares its kernel half with the tables the
// console draws under (a process's, chapter 12): the framebuffer is at the
// same address there, so the console goes on drawing while CR3 holds them.
// 0: none.
void screen_shares_kernel_half(uint64_t pml4);

// The chapter draws on the screen itself from here on (chapter 06's test
// pattern): the console logs `[INFO  screen] released` and stops drawing.
void release_screen(const char* to);

// The klog sink's second half (kernel/console.cpp): one line, after it went to COM1.
void screen_console_write(klog::Level level, const char* text, size_t length);

}  // namespace kernel

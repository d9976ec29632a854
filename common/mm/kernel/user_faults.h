// Faults in ring 3 (chapter 12): a program that breaks a rule is reported
// and killed, and the kernel goes on; a fault in the kernel still gets
// chapter 10's report and stops the boot.
//
// The handler goes in front of chapter 10's (kernel::set_trap_handler hands
// back the one it replaces): a frame whose CS has RPL 3 came from the
// program, anything else is passed on. One line per kill:
//   [WARN  user] killed pid=… name=… rule=kernel-memory addr=0x… access=read present=yes rip=0x… vector=14 why="…"
// The rules (user_layout.h, classify_user_page_fault): kernel-memory,
// null-page, write-read-only, execute-no-execute, stack-guard, not-mapped,
// and for other exceptions the exception's name (general-protection, …).
#pragma once

namespace mm {

void install_user_fault_reports();

}  // namespace mm

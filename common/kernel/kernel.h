// What a chapter provides to the shared kernel runtime, and what it gets.
#pragma once

#include "boot/handoff.h"
#include "support/command_line.h"

namespace kernel {

// The chapter's name ("01-boot"), set per chapter by the build.
extern const char kChapterName[];

// The options this chapter's sources read (`hold`, `log`, `test.fault`, …),
// listed by the build from those sources (scripts/known_options.py).
extern const char* const kKnownOptions[];
extern const size_t kKnownOptionCount;

// The boot command line (the loader's \cmdline.txt), valid from kernel_main on.
CommandLine command_line();

// The loader's handoff, as the kernel reaches it now: the one pointer to it
// (the memory library keeps a typed view instead: mm/kernel/handoff_view.h).
// Valid from kernel_main on.
const boot::BootHandoff& boot_handoff();

// The handoff's new address, once the kernel reaches it through the
// phys-offset window instead of the identity map (chapter 08). The caller has
// checked that the new address shows the same bytes.
void relocate_handoff(const boot::BootHandoff* handoff);

}  // namespace kernel

// Each chapter defines this. The runtime calls it once the console, the early
// CPU state and global constructors are ready, and the handoff header checked.
// When it returns, the runtime logs `ready` and exits with the success code.
void kernel_main(const boot::BootHandoff& handoff);

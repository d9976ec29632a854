// Boot modules: the user programs in \user\*.elf (chapter 12 on), read into
// memory of their own type and listed in the handoff.
//
// The loader does not look inside a module: it copies the file's bytes into
// kBootModules pages (uefi_memory.h), so the kernel finds them in the memory
// map by name, and lists name, address and size in the handoff's module table.
// The kernel validates the list (mm/handoff_validation.h) and each ELF in it.
// A volume without a \user folder hands over zero modules, and the loader says
// nothing about it: chapters without programs boot as before.
#pragma once

#include "boot/handoff.h"
#include "boot/efi.h"

namespace boot {

// A module file may be at most this big: a teaching program is a few KiB.
inline constexpr uint64_t kMaxModuleFileSize = 4ull * 1024 * 1024;

// Reads every regular file named *.elf in \user of `root`, in name order, into
// kBootModules pages and lists it in handoff->modules. Fails the boot by name
// on a file it cannot read, a name too long for the table, or a 17th module.
void read_boot_modules(EFI_HANDLE image, EFI_FILE_HANDLE root, BootHandoff* handoff);

}  // namespace boot

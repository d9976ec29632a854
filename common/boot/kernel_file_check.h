// loader.check-kernels: validate many kernel files in one boot, boot none.
//
// With `loader.check-kernels` in \cmdline.txt, the loader reads every file in
// \check-kernels\ on its own volume and puts each through the same checks as
// \kernel.elf (elf::parse_kernel_elf), logging one verdict per file:
//
//   [ERROR loader] kernel.elf rejected path=\check-kernels\WRONG.ELF field=e_machine value=0x3 rule="…"
//   [INFO  loader] kernel.elf accepted path=\check-kernels\GOOD.ELF entry=0x… segments=3 span=0x…
//   [INFO  loader] kernel files checked files=9 accepted=1 rejected=8 unreadable=0
//
// then stops the boot with the failure code, as a single bad \kernel.elf
// does. A UEFI boot costs seconds of firmware time under TCG; this is how the
// tests try every malformed ELF in one (tests/test_01_loader_rejects.py).
#pragma once

#include "boot/efi.h"

namespace boot {

[[noreturn]] void check_kernel_files(EFI_HANDLE image, EFI_FILE_HANDLE root);

}  // namespace boot

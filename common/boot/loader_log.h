// The loader's console and its one way to give up.
#pragma once

#include "boot/efi.h"
#include "support/log.h"

namespace boot {

// Sends klog lines to COM1; until ExitBootServices, errors are also shown on
// the firmware console so that someone at a real screen sees why boot stopped.
void init_loader_log(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table);

// After ExitBootServices the firmware console is gone: only COM1 remains.
void loader_log_boot_services_exited();

// `status` as log text: its name when known ("not-found"), else its value in
// hex. Returned as text so an error line stays one statement: a klog::Line
// held in a variable would never be written if loader_fail() came before its
// destructor.
const char* efi_status_text(EFI_STATUS status);

// Stops the boot after an error has been logged: exits QEMU with the failure
// code through isa-debug-exit; on a machine without that device, returns to the
// firmware's boot manager (or halts, once boot services are gone). Never hangs
// silently, never continues.
[[noreturn]] void loader_fail(EFI_HANDLE image, EFI_STATUS status);

}  // namespace boot

// The firmware floor: the smallest UEFI application that boots the way a
// chapter does, writes one serial line and exits QEMU.
//
// `make bench` boots it from the same kind of ESP image, with the same QEMU
// command line, as every chapter, and divides each chapter's time to its
// `ready` line by this application's time to its one line: what remains is
// what the loader and the kernel cost on top of OVMF itself.
//
// Built exactly like BOOTX64.EFI (mk/loader.mk's flags, GNU-EFI crt0 and
// linker script, objcopy to PE32+); see bench/bench.mk.
extern "C" {
#include <efi.h>
#include <efilib.h>
}

#include "arch/x86/io.h"
#include "arch/x86/uart16550.h"
#include "boot/exit_codes.h"

extern "C" EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table) {
    InitializeLib(image, system_table);
    // The loader sets COM1 up the same way before its first line.
    constexpr x86::Uart16550 serial(x86::kCom1);
    serial.init();
    static const char kLine[] = "[INFO  floor] ready\n";
    serial.write(kLine, sizeof(kLine) - 1);
    x86::outb(boot::kDebugExitPort, uint8_t(boot::ExitCode::kSuccess));
    // No debug-exit device (real hardware): return to the firmware.
    return EFI_SUCCESS;
}

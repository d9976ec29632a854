// What the firmware knows that the kernel will need: the GOP framebuffer and
// the ACPI root pointer. Both must be fetched while boot services still run.
#pragma once

#include "boot/handoff.h"
#include "boot/efi.h"

namespace boot {

// Fills the framebuffer_* fields (format kNone when there is no GOP).
void collect_framebuffer(BootHandoff* handoff);

// Fills rsdp / rsdp_revision, preferring the ACPI 2.0 table (it has the XSDT).
void collect_rsdp(BootHandoff* handoff);

}  // namespace boot

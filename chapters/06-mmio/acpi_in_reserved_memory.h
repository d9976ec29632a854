// A firmware shape QEMU's OVMF does not make, beside the story:
// `test.acpi-in-reserved` relabels every ACPI-reclaim descriptor of the
// handoff's memory map as EfiReservedMemoryType before the kernel reads the
// map, as firmware that puts its ACPI tables in reserved memory describes
// them. The tables are then in no RAM mapping, and map_mmio_devices reads
// them through the ACPI tables window (acpi_table_window.h), which
// tests/test_06_mmio.py checks against QEMU's own view of the tables.
#pragma once

#include "boot/handoff.h"

void put_acpi_tables_in_reserved_memory_if_requested(const boot::BootHandoff& handoff);

# Chapter 06 adds memory types (PAT), the ACPI reader and two phases to
# chapter 05's MemoryManager: map_mmio_devices and map_framebuffer.
CHAPTER_BASE := 05-paging
CHAPTER_NEW_MODULES := acpi_tables acpi_table_window mmio_map kernel/mmio_phases
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := memory_type_test acpi_tables_test acpi_table_window_test mmio_map_test

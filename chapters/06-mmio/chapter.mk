# Chapter 06 adds memory types (PAT), the ACPI reader and two phases to
# chapter 05's MemoryManager: map_mmio_devices and map_framebuffer.
CHAPTER_MM_MODULES := handoff_validation memory_ranges memory_map_log boot_memory boot_frame_allocator \
    mtrr kernel/cpu_paging_features page_table_entry page_table_builder page_table_lookup mapping_log identity_map kernel_image_map phys_window \
    kernel/address_space kernel/phys_window_check acpi_tables mmio_map kernel/mmio_phases kernel/boot_intake
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := memory_type_test acpi_tables_test mmio_map_test

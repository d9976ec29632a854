# Chapter 08 moves the handoff and the memory map to the phys-offset window
# (handoff_remap) and removes the identity map and the whole lower half
# (lower_half), on top of chapter 07's address space.
CHAPTER_MM_MODULES := handoff_validation memory_ranges memory_map_log boot_memory boot_frame_allocator \
    mtrr kernel/cpu_paging_features page_table_entry page_table_builder page_table_lookup mapping_log identity_map kernel_image_map phys_window \
    kernel/address_space kernel/phys_window_check acpi_tables mmio_map kernel/mmio_phases temporary_window \
    handoff_remap lower_half kernel/leave_lower_half kernel/boot_intake
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := handoff_remap_test

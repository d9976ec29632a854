# Chapter 09 verifies chapter 08's address space: a walk over the live tables
# (page_table_walker) checks every expected region and the rules for every
# entry (address_space_audit), and prints the address space as merged ranges
# (address_space_report).
CHAPTER_MM_MODULES := handoff_validation memory_ranges memory_map_log boot_memory boot_frame_allocator \
    mtrr kernel/cpu_paging_features page_table_entry page_table_builder page_table_lookup mapping_log identity_map kernel_image_map phys_window \
    kernel/address_space kernel/phys_window_check acpi_tables mmio_map kernel/mmio_phases temporary_window \
    handoff_remap lower_half kernel/leave_lower_half kernel/boot_intake page_table_walker address_space_audit address_space_report kernel/address_space_verification
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := address_space_audit_test

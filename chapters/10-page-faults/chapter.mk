# Chapter 10 adds the kernel stacks (kernel_stacks: the phase map_kernel_stacks),
# a GDT with a TSS and an IDT whose gates switch to them (kernel/exception_tables),
# and decoded reports for every exception (fault_decode, kernel/fault_reports).
CHAPTER_MM_MODULES := handoff_validation memory_ranges memory_map_log boot_memory boot_frame_allocator \
    mtrr kernel/cpu_paging_features page_table_entry page_table_builder page_table_lookup mapping_log identity_map kernel_image_map phys_window \
    kernel/address_space kernel/phys_window_check acpi_tables mmio_map kernel/mmio_phases temporary_window \
    handoff_remap lower_half kernel/leave_lower_half kernel/boot_intake \
    kernel_stacks fault_decode kernel/exception_tables kernel/fault_reports
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := fault_decode_test

# Chapter 07 extends chapter 06's MemoryManager with one phase, the temporary
# window (temporary_window): one fixed page through which any frame can be
# seen, changed only with a TLB flush token (tlb_flush, cpu_tlb).
CHAPTER_MM_MODULES := handoff_validation memory_ranges memory_map_log boot_memory boot_frame_allocator \
    mtrr kernel/cpu_paging_features page_table_entry page_table_builder page_table_lookup mapping_log identity_map kernel_image_map phys_window \
    kernel/address_space kernel/phys_window_check acpi_tables mmio_map kernel/mmio_phases temporary_window kernel/boot_intake
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := temporary_window_test

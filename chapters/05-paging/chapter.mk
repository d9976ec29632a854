# Chapter 05 turns chapter 04's two phases into the MemoryManager's boot
# sequence (kernel/address_space) and adds the phys-offset window
# (phys_window) and its self-check (kernel/phys_window_check).
CHAPTER_MM_MODULES := handoff_validation memory_ranges memory_map_log boot_memory boot_frame_allocator \
    mtrr kernel/cpu_paging_features page_table_entry page_table_builder page_table_lookup mapping_log identity_map kernel_image_map phys_window \
    kernel/address_space kernel/phys_window_check kernel/boot_intake
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := phys_window_test

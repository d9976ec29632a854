# Chapter 04 builds the kernel's own page tables: the page-table library
# (entries, builder, lookup), the two mapping phases and their log lines, on
# top of chapter 02's memory map and chapter 03's frame allocator; the CPU's
# paging features and MTRRs (mtrr, kernel/cpu_paging_features) decide which
# pages are allowed.
CHAPTER_BASE := 03-frame-allocator
CHAPTER_NEW_MODULES := mtrr kernel/cpu_paging_features page_table_entry page_table_builder page_table_lookup mapping_log ram_run_mapper identity_map kernel_image_map kernel/boot_intake
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := page_tables_test page_table_builder_example_test mapping_phases_test mtrr_test ram_run_mapper_test

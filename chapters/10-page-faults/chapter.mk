# Chapter 10 adds the kernel stacks (kernel_stacks: the phase map_kernel_stacks),
# a GDT with a TSS and an IDT whose gates switch to them (the runtime's
# exception_tables, handed the stacks by kernel/kernel_stacks_phase), and
# decoded reports for every exception (fault_decode, kernel/fault_reports).
CHAPTER_BASE := 09-verify
CHAPTER_NEW_MODULES := kernel_stacks fault_decode kernel/kernel_stacks_phase kernel/fault_reports
# The common/kernel modules it adds to the runtime every chapter links.
CHAPTER_NEW_RUNTIME := exception_tables
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := fault_decode_test

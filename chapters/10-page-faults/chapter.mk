# Chapter 10 adds the kernel stacks (kernel_stacks: the phase map_kernel_stacks),
# a GDT with a TSS and an IDT whose gates switch to them (kernel/exception_tables),
# and decoded reports for every exception (fault_decode, kernel/fault_reports).
CHAPTER_BASE := 09-verify
CHAPTER_NEW_MODULES := kernel_stacks fault_decode kernel/exception_tables kernel/fault_reports kernel/kernel_stacks_phase
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := fault_decode_test

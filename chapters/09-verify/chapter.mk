# Chapter 09 verifies chapter 08's address space: a walk over the live tables
# (page_table_walker) checks every expected region and the rules for every
# entry (address_space_audit), and prints the address space as merged ranges
# (address_space_report).
CHAPTER_BASE := 08-handoff-remap
CHAPTER_NEW_MODULES := page_table_walker address_space_audit address_space_report kernel/address_space_verification
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := address_space_audit_test

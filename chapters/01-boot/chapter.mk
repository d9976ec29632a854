# Chapter 01 uses the kernel runtime only: no common/mm module yet.
CHAPTER_MM_MODULES :=
# The host unit tests (tests/host/) of what this chapter adds; `make check` runs
# them with those of the chapters before it.
CHAPTER_HOST_TESTS := elf_image_test support_test

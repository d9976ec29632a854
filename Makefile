# The tutorial's one build file. Start with:
#
#   make run            build and boot the newest chapter (CH=01-boot for another)
#   make test           host unit tests, then every chapter booted in QEMU
#   make debug CH=...   QEMU paused with its GDB stub, and GDB attached
#
# Every output lands in build/. V=1 shows the full commands.

BUILD   := build
CXX     := g++
LD      := ld
OBJCOPY := objcopy
PYTHON  := /usr/bin/python3   # Debian's interpreter: it sees python3-pytest and friends

# Extra words for every chapter's cmdline.txt (tests write their own per boot).
CMDLINE ?=

# Build on every core unless told otherwise (make -jN).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Install missing Debian packages before anything else (skipped for clean/help).
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
ifneq ($(shell scripts/install-deps.sh >&2 && echo ok),ok)
$(error scripts/install-deps.sh could not install what the build needs (see above))
endif
endif

# Shared by the loader and the kernels: freestanding C++20, no exceptions, no RTTI.
# -Og: optimised, but every line and variable stays where GDB expects it.
CXX_COMMON := -std=c++20 -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics \
    -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
    -nostdlib -Og -g -Wall -Wextra -Werror=return-type

# Everything there is to build, fuzz targets included, so that `make test`
# after `make` only builds what changed since.
.PHONY: all
all: loader kernels host-tests fuzz-targets compile_commands.json

include mk/loader.mk
include mk/kernel.mk
include mk/host.mk
include mk/fuzz.mk

.PHONY: loader kernels
loader: $(LOADER_EFI)
kernels: $(CHAPTER_IMAGES)

# ---- running ---------------------------------------------------------------
NEWEST_CHAPTER := $(lastword $(CHAPTERS))
CH ?= $(NEWEST_CHAPTER)

.PHONY: run debug check-chapter
check-chapter:
	@test -f chapters/$(CH)/kernel_main.cpp || { echo "unknown chapter CH=$(CH); chapters: $(CHAPTERS)" >&2; exit 2; }

run: check-chapter $(BUILD)/$(CH)/disk.img
	$(Q)$(PYTHON) tests/run_chapter.py run --chapter $(CH) $(if $(MEM),--memory $(MEM)) $(if $(CPU),--cpu $(CPU))

debug: check-chapter $(BUILD)/$(CH)/disk.img
	$(Q)scripts/debug.sh $(CH)

# ---- testing ---------------------------------------------------------------
# Boots run in parallel (one QEMU per core); a module's tests share its boots.
PYTEST_ARGS ?= -n auto --dist loadscope
# One id per `make test`: its pytest run reads back the boots its book step made
# instead of booting them again, and never a boot from an earlier run
# (tests/harness/boot_logs.py).
ifneq ($(filter test,$(MAKECMDGOALS)),)
export BOOT_LOG_SESSION := $(shell date +%s.%N)-$(shell echo $$PPID)
endif

.PHONY: test
test: all book-logs
	$(Q)$(HOST_TEST_BIN)
	$(Q)$(PYTHON) -m pytest $(PYTEST_ARGS) tests

# The full boot matrix (every chapter x machine x memory x CPU x CPU count);
# make test boots a subset that covers every value once (tests/test_matrix.py).
.PHONY: test-matrix
test-matrix: kernels
	$(Q)$(PYTHON) tests/run_matrix.py

# ---- the book --------------------------------------------------------------
# build/book/html, by Sphinx + MyST (book/conf.py), every warning an error. The
# boot logs the pages quote come from real boots (scripts/book/capture_logs.py,
# into build/book/logs); book/reference/writing.md says how pages are written.
# Sphinx is skipped when nothing it reads changed (scripts/book/build_html.py).
# make test needs only the logs before pytest starts: tests/test_book.py builds
# the HTML on one worker while the other boots.
BOOK_OUT := $(BUILD)/book

.PHONY: book book-logs sync-docs
book-logs: kernels
	$(Q)$(PYTHON) scripts/book/capture_logs.py $(BOOK_OUT)/logs book chapters

book: book-logs
	$(Q)$(PYTHON) scripts/book/build_html.py

# Copy each excerpt, boot-log quote and logged number into the chapter READMEs (scripts/book/sync_docs.py).
sync-docs: book-logs
	$(Q)$(PYTHON) scripts/book/sync_docs.py

# ---- benchmarks ------------------------------------------------------------
# make bench: boot overhead against the firmware floor, page-table footprint
# against the minimum, mapping cost against a naive mapper (callgrind), and the
# reader's build/test loop; one table, and build/bench/results.csv / .json.
# BENCH_FULL=1 also times `make test`. The rules are in bench/bench.mk.
include bench/bench.mk

# ---- tooling ---------------------------------------------------------------
# For clangd: one entry per source file, with the exact flags make uses.
compile_commands.json: Makefile mk/loader.mk mk/kernel.mk mk/host.mk $(LOADER_SRCS) $(RUNTIME_SRCS) $(wildcard chapters/*/*.cpp) $(HOST_TEST_SRCS)
	@echo "  GEN     $@"
	$(Q)$(PYTHON) scripts/compile_commands.py $(CURDIR) \
	    "$(CXX) $(LOADER_CXXFLAGS)" $(LOADER_SRCS) -- \
	    "$(CXX) $(KERNEL_CXXFLAGS)" $(filter %.cpp,$(RUNTIME_SRCS)) $(wildcard common/mm/*.cpp common/mm/kernel/*.cpp) $(wildcard chapters/*/*.cpp) -- \
	    "$(CXX) $(HOST_CXXFLAGS) -O0" $(HOST_TEST_SRCS) > $@

.PHONY: clean help
clean:
	rm -rf $(BUILD) compile_commands.json

help:
	@sed -n '2,8p' Makefile | sed 's/^# \{0,1\}//'
	@echo "chapters: $(CHAPTERS)"

# Output folders: made on demand, and never deleted as "intermediate" files.
.PRECIOUS: %/
%/:
	$(Q)mkdir -p $@

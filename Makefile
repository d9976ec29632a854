# The tutorial's one build file. Start with:
#
#   make run            build and boot the newest chapter (CH=01-boot for another)
#   make check CH=...   rebuild, then one chapter's host tests and boot tests
#   make test           host unit tests, then every chapter booted in QEMU
#   make help           every public target, one line each
#
# Every output lands in build/. V=1 shows the full commands. Each public target
# has a `# help:` line beside its rule; `make help` prints them.

BUILD   := build
CXX     := g++
LD      := ld
OBJCOPY := objcopy
PYTHON  := /usr/bin/python3   # Debian's interpreter: it sees python3-pytest and friends

# The kernel command line of `make run` and `make debug` (tests set their own
# per boot); it goes into the copy of the image that QEMU boots.
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
# help: all          (plain `make`) build everything: loader, kernels, host tests, fuzz targets
.PHONY: all
all: loader kernels host-tests fuzz-targets compile_commands.json

include mk/loader.mk
include mk/user.mk
include mk/kernel.mk
include mk/host.mk
include mk/fuzz.mk
include mk/lab.mk

# help: loader       build the UEFI loader, build/loader/BOOTX64.EFI
# help: kernels      build every chapter's kernel.elf and disk.img
# help: host-tests   build the host unit tests, build/host/host_tests (make check runs them)
.PHONY: loader kernels
loader: $(LOADER_EFI)
kernels: $(CHAPTER_IMAGES)

# ---- running ---------------------------------------------------------------
NEWEST_CHAPTER := $(lastword $(CHAPTERS))
CH ?= $(NEWEST_CHAPTER)

.PHONY: run debug check-chapter
check-chapter:
	@test -f chapters/$(CH)/kernel_main.cpp || { echo "unknown chapter CH=$(CH); chapters: $(CHAPTERS)" >&2; exit 2; }

# help: run          build and boot chapter CH (default: the newest) here; MEM=, CPU=, SMP=, MACHINE=, CMDLINE=
run: check-chapter $(BUILD)/$(CH)/disk.img
	$(Q)$(PYTHON) tests/run_chapter.py run --chapter $(CH) $(if $(MEM),--memory $(MEM)) $(if $(CPU),--cpu $(CPU)) \
	    $(if $(SMP),--smp $(SMP)) $(if $(MACHINE),--machine $(MACHINE)) \
	    $(if $(strip $(CMDLINE)),--cmdline '$(strip $(CMDLINE))')

# help: debug        boot chapter CH paused, with GDB attached and stopped at kernel_main
debug: check-chapter $(BUILD)/$(CH)/disk.img
	$(Q)CMDLINE='$(strip $(CMDLINE))' scripts/debug.sh $(CH)

# A chapter on a real PC: the same ESP in the partitioned layout firmware
# reads from a USB stick (book/reference/real-hardware.md).
# help: usb-image    build build/CH/usb.img: chapter CH as the disk of a USB stick
# help: usb-stick    write chapter CH's usb.img to the USB stick DEVICE=/dev/sdX, after checking it is one
.PHONY: usb-image usb-stick
usb-image: check-chapter $(BUILD)/$(CH)/usb.img
usb-stick: check-chapter $(BUILD)/$(CH)/usb.img
	$(Q)$(PYTHON) scripts/write_usb_stick.py $(BUILD)/$(CH)/usb.img $(DEVICE) $(if $(filter yes,$(CONFIRM)),--yes)

$(BUILD)/%/usb.img: $(BUILD)/%/disk.img scripts/usb_image.py tests/harness/usb_disk.py
	@echo "  USB     $@"
	$(Q)$(PYTHON) scripts/usb_image.py $< $@

# After an exercise: rebuild what changed (host tests and the chapter's image,
# so nothing stale is tested), then the host tests of the chapter and of the
# chapters it builds on (CHAPTER_HOST_TESTS in chapter.mk) and the chapter's boot
# tests, tests/test_NN_*.py (tests/check_chapter.py).
# help: check        rebuild, then chapter CH's host unit tests and boot tests
.PHONY: check
check: check-chapter $(HOST_TEST_BIN) $(BUILD)/$(CH)/disk.img
	$(Q)$(PYTHON) tests/check_chapter.py $(HOST_TEST_BIN) $(CH) -- $(PYTEST_ARGS)

# ---- testing ---------------------------------------------------------------
# Boots run in parallel (one QEMU per core); a module's tests share its boots.
PYTEST_ARGS ?= -n auto --dist loadscope
# One id per `make test`: its pytest run reads back the boots its book step made
# instead of booting them again, test modules share the boots they have in
# common, and never a boot from an earlier run (tests/harness/boot_logs.py).
ifneq ($(filter test,$(MAKECMDGOALS)),)
export BOOT_LOG_SESSION := $(shell date +%s.%N)-$(shell echo $$PPID)
endif

# help: test         everything: host tests, every chapter booted and checked, the book
.PHONY: test test-pc-vars test-host-run
test: all test-pc-vars book-logs test-host-run
	$(Q)rm -rf $(BUILD)/test-boots  # boots one test module shares with another (harness/boot_logs.py)
	$(Q)$(PYTHON) -m pytest $(PYTEST_ARGS) tests

# Beside the book step, which boots on q35 only, so no core waits: the boot that
# fills the pc machine's UEFI variable store (with the book step's own first
# boot, which fills q35's; tests/harness/firmware_vars.py), then the host tests.
test-pc-vars: kernels
	$(Q)$(PYTHON) tests/fill_firmware_vars.py pc
test-host-run: $(HOST_TEST_BIN)
	$(Q)$(HOST_TEST_BIN) --gtest_brief=1

# The full boot matrix (every chapter x machine x memory x CPU x CPU count);
# make test boots a subset that covers every value once (tests/test_matrix.py).
# help: test-matrix  the full boot matrix: every chapter x machine x memory x CPU x CPU count
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

# help: book         the book, build/book/html/index.html (boots what its pages quote)
book: book-logs
	$(Q)$(PYTHON) scripts/book/build_html.py

# Copy each excerpt, boot-log quote and logged number into the chapter READMEs (scripts/book/sync_docs.py).
# help: sync-docs    refresh the code and boot-log copies in the chapter READMEs (make test checks them)
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
	    "$(CXX) $(KERNEL_CXXFLAGS)" $(filter %.cpp,$(RUNTIME_SRCS)) $(wildcard common/mm/*.cpp common/mm/kernel/*.cpp) -- \
	    "$(CXX) $(CHAPTER_CXXFLAGS)" $(wildcard chapters/*/*.cpp) -- \
	    "$(CXX) $(HOST_CXXFLAGS) -O0" $(HOST_TEST_SRCS) > $@

# help: clean        remove build/ and compile_commands.json
# help: help         this list
.PHONY: clean help
clean:
	rm -rf $(BUILD) compile_commands.json

help:
	@echo "make TARGET [CH=NN-name] — targets:"
	@sed -n 's/^# help: /  /p' Makefile mk/*.mk bench/bench.mk
	@echo "chapters (CH=): $(CHAPTERS)"

# Output folders: made on demand, and never deleted as "intermediate" files.
.PRECIOUS: %/
%/:
	$(Q)mkdir -p $@

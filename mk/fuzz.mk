# Fuzzing: libFuzzer targets (clang's, from Debian) for every parser of outside
# input and for the page-table builder, under ASan and UBSan.
#
#   tests/fuzz/<target>_fuzz.cpp       the target: its input format and invariants
#   tests/fuzz/corpus/<target>/        seeds, written by `make fuzz-seeds`
#   tests/fuzz/regressions/<target>/   every crash ever found, replayed by make test
#
# `make test` replays the regressions and fuzzes each target for a fixed number of inputs
# (tests/test_fuzz.py); `make fuzz` fuzzes each for FUZZ_SECONDS.

FUZZ_CXX      := clang++
FUZZ_TARGETS  := elf_image memory_map page_table acpi_tables address_space_audit steady_state user_elf user_regions copy_on_write
FUZZ_OUT      := $(BUILD)/fuzz
FUZZ_SECONDS  ?= 60
# Sources compile with the fuzzer's coverage hooks (fuzzer-no-link); only the
# link brings in libFuzzer's main().
FUZZ_SANITIZERS := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CXXFLAGS := -std=c++20 -g -O1 -fsanitize=fuzzer-no-link $(FUZZ_SANITIZERS) \
    -Icommon/include -Icommon -Itests/host -Itests/fuzz
FUZZ_LDFLAGS  := -fsanitize=fuzzer $(FUZZ_SANITIZERS)
# The code under test: the same pure sources the host tests compile.
FUZZ_CODE_SRCS := $(HOST_CODE_SRCS) tests/host/host_runtime.cpp
FUZZ_BINS := $(foreach t,$(FUZZ_TARGETS),$(FUZZ_OUT)/$(t)_fuzz)
# Every source is compiled once, with the fuzzer's coverage hooks but not its
# main(), and each target links the objects it shares with the others: touching
# one common/mm file recompiles that file, not six copies of the library.
FUZZ_CODE_OBJS := $(patsubst %.cpp,$(FUZZ_OUT)/obj/%.o,$(FUZZ_CODE_SRCS))
FUZZ_TARGET_OBJS := $(foreach t,$(FUZZ_TARGETS),$(FUZZ_OUT)/obj/tests/fuzz/$(t)_fuzz.o)
# Kept after the link (make would delete them as intermediate files).
.SECONDARY: $(FUZZ_CODE_OBJS) $(FUZZ_TARGET_OBJS)

$(FUZZ_OUT)/obj/%.o: %.cpp mk/fuzz.mk
	@mkdir -p $(dir $@)
	@echo "  FUZZCXX $<"
	$(Q)$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_OUT)/%_fuzz: $(FUZZ_OUT)/obj/tests/fuzz/%_fuzz.o $(FUZZ_CODE_OBJS)
	@echo "  LD      $@"
	$(Q)$(FUZZ_CXX) $(FUZZ_LDFLAGS) $^ -o $@

-include $(FUZZ_CODE_OBJS:.o=.d) $(FUZZ_TARGET_OBJS:.o=.d)

.PHONY: fuzz-targets fuzz fuzz-seeds
fuzz-targets: $(FUZZ_BINS)

# New inputs go to build/fuzz/corpus (the seeds stay as committed); crashes to
# build/fuzz/crashes, to be copied into tests/fuzz/regressions once fixed.
# help: fuzz         run every libFuzzer target for FUZZ_SECONDS each
fuzz: $(FUZZ_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_OUT)/corpus/$$t $(FUZZ_OUT)/crashes/$$t; \
	    echo "  FUZZ    $$t ($(FUZZ_SECONDS) s)"; \
	    $(FUZZ_OUT)/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_OUT)/crashes/$$t/ $(FUZZ_OUT)/corpus/$$t tests/fuzz/corpus/$$t \
	        2>&1 | grep -E '^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY)' || exit 1; \
	done

# help: fuzz-seeds   regenerate the committed seed corpora (tests/fuzz/corpus)
fuzz-seeds: tests/fuzz/make_seeds.cpp
	@mkdir -p $(FUZZ_OUT) $(foreach t,$(FUZZ_TARGETS),tests/fuzz/corpus/$(t))
	$(Q)$(CXX) -std=c++20 -Wall -Icommon/include -Icommon -Itests/host $< -o $(FUZZ_OUT)/make_seeds
	$(Q)$(FUZZ_OUT)/make_seeds tests/fuzz/corpus

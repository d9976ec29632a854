# Host unit tests: the pure parts of common/ (no firmware, no hardware) compiled
# for Linux and run under GoogleTest with AddressSanitizer and UBSan, so an
# out-of-bounds read in a parser fails a test instead of passing by luck.

HOST_OUT       := $(BUILD)/host
HOST_TEST_SRCS := $(wildcard tests/host/*.cpp)
# The code under test: each file listed here must build without firmware headers.
# All of common/mm is here: it reaches hardware only through small interfaces.
HOST_CODE_SRCS := common/boot/elf_image.cpp common/boot/identity_extent.cpp common/boot/bootstrap_mappings.cpp \
    common/boot/exit_retry.cpp common/boot/paging_mode.cpp $(wildcard common/mm/*.cpp) \
    common/kernel/text_screen.cpp common/kernel/pixel_encoding.cpp
HOST_TEST_BIN  := $(HOST_OUT)/host_tests

HOST_CXXFLAGS := -std=c++20 -O1 -g -Wall -Wextra -fsanitize=address,undefined -fno-sanitize-recover=all \
    -Icommon/include -Icommon -Itests/host
HOST_OBJS := $(patsubst %.cpp,$(HOST_OUT)/%.o,$(HOST_TEST_SRCS) $(HOST_CODE_SRCS))

# The code under test is built at -O1, as ASan advises; the test files at -O0:
# GoogleTest's macros make -O1 compile three times slower (14 s against 4 s for
# page_tables_test.cpp), and a test's own code gains nothing from optimising.
# GoogleTest's header is most of what each test file parses (about 1.5 s of
# its 2-7 s). It is parsed once into a precompiled header, built with exactly
# the test files' flags (GCC ignores a .gch made with others), and every test
# file gets it through -include.
HOST_PCH := $(HOST_OUT)/pch/gtest.h
$(HOST_PCH).gch: mk/host.mk
	@mkdir -p $(dir $@)
	@echo "  HOSTPCH gtest/gtest.h"
	$(Q)echo '#include <gtest/gtest.h>' > $(HOST_PCH)
	$(Q)$(CXX) $(HOST_CXXFLAGS) -O0 -x c++-header $(HOST_PCH) -o $@
$(patsubst %.cpp,$(HOST_OUT)/%.o,$(HOST_TEST_SRCS)): HOST_OPT := -O0 -include $(HOST_PCH) -Winvalid-pch
$(patsubst %.cpp,$(HOST_OUT)/%.o,$(HOST_TEST_SRCS)): $(HOST_PCH).gch

$(HOST_OUT)/%.o: %.cpp
	@mkdir -p $(dir $@)
	@echo "  HOSTCXX $<"
	$(Q)$(CXX) $(HOST_CXXFLAGS) $(HOST_OPT) -MMD -MP -c $< -o $@

$(HOST_TEST_BIN): $(HOST_OBJS)
	@echo "  LD      $@"
	$(Q)$(CXX) $(HOST_CXXFLAGS) $^ -o $@ -lgtest -lgtest_main -pthread

.PHONY: host-tests
host-tests: $(HOST_TEST_BIN)

-include $(HOST_OBJS:.o=.d)

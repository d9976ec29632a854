// The freestanding helpers shared by loader and kernel: alignment, the command
// line, and the exact text of log lines (tests and the book quote them).
#include <gtest/gtest.h>

#include <string>

#include "support/command_line.h"
#include "support/log.h"
#include "support/units.h"

namespace {

std::string g_captured;
void capture(klog::Level, const char* text, size_t length) { g_captured.append(text, length); }

std::string render(void (*emit)()) {
    g_captured.clear();
    klog::set_sink(capture);
    klog::set_threshold(klog::Level::kInfo);
    emit();
    klog::set_sink(nullptr);
    return g_captured;
}

}  // namespace

TEST(Units, AlignUpReportsOverflow) {
    uint64_t out = 0;
    EXPECT_TRUE(align_up(0x1001, kPageSize, &out));
    EXPECT_EQ(out, 0x2000u);
    EXPECT_TRUE(align_up(0x2000, kPageSize, &out));
    EXPECT_EQ(out, 0x2000u);
    EXPECT_FALSE(align_up(~0ull - 5, kPageSize, &out));
    EXPECT_EQ(align_down(0x1FFF, kPageSize), 0x1000u);
    EXPECT_EQ(pages_for(0), 0u);
    EXPECT_EQ(pages_for(2 * MiB + 1), 513u);
}

TEST(CommandLine, FindsFlagsAndValues) {
    const CommandLine cmdline("  hold\tloader.dump-map corrupt=map-size log=debug ");
    EXPECT_TRUE(cmdline.has("hold"));
    EXPECT_TRUE(cmdline.has("loader.dump-map"));
    EXPECT_TRUE(cmdline.has("corrupt"));
    EXPECT_FALSE(cmdline.has("loader"));
    EXPECT_FALSE(cmdline.has("dump-map"));
    EXPECT_TRUE(cmdline.value("corrupt") == Str("map-size"));
    EXPECT_TRUE(cmdline.value("log") == Str("debug"));
    EXPECT_TRUE(cmdline.value("missing", "fallback") == Str("fallback"));
    EXPECT_FALSE(CommandLine("").has("hold"));
}

TEST(Log, WritesTheStableLineFormat) {
    EXPECT_EQ(render([] {
                  klog::info("mmio").msg("map lapic").kv("pa", klog::hex(0xfee00000)).kv("size", klog::size(4096)).kv(
                      "flags", "P|RW|NX");
              }),
              "[INFO  mmio] map lapic pa=0xfee00000 size=4KiB flags=P|RW|NX\n");
    EXPECT_EQ(render([] { klog::error("loader").msg("rejected").kv("rule", "must be EM_X86_64 (0x3e)"); }),
              "[ERROR loader] rejected rule=\"must be EM_X86_64 (0x3e)\"\n");
}

TEST(Log, FormatsNumbersExactly) {
    EXPECT_EQ(render([] {
                  klog::info("t").kv("a", klog::size(0)).kv("b", klog::size(3 * GiB)).kv("c", klog::size(1536 * KiB)).kv(
                      "d", klog::size(100)).kv("e", klog::size(2 * MiB));
              }),
              "[INFO  t] a=0B b=3GiB c=1536KiB d=100B e=2MiB\n");
    EXPECT_EQ(render([] { klog::info("t").kv("h", klog::hex(0)).kv("m", klog::hex(~0ull)).kv("n", -42).kv("y", true); }),
              "[INFO  t] h=0x0 m=0xffffffffffffffff n=-42 y=yes\n");
}

TEST(Log, QuotesEmptyAndSpacedValuesAndNeutralisesControlCharacters) {
    EXPECT_EQ(render([] { klog::info("t").kv("empty", "").kv("text", "a b").kv("nl", "x\ny"); }),
              "[INFO  t] empty=\"\" text=\"a b\" nl=\"x?y\"\n");
}

TEST(Log, DropsLinesBelowTheThresholdAndTruncatesLongOnes) {
    EXPECT_EQ(render([] { klog::debug("t").msg("hidden"); }), "");
    const std::string long_line = render([] {
        std::string big(1000, 'x');
        klog::info("t").kv("big", Str(big.data(), big.size()));
    });
    EXPECT_LE(long_line.size(), 400u);
    EXPECT_EQ(long_line.substr(long_line.size() - 5), " ...\n");
}

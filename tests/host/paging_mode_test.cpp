// The paging mode the loader accepts from the firmware (common/boot/paging_mode.h).
#include "boot/paging_mode.h"

#include <gtest/gtest.h>

#include <string>

namespace {

constexpr uint64_t kCr4Typical = 0x668;  // PAE, MCE, PGE, OSFXSR, OSXMMEXCPT: what OVMF leaves on

TEST(PagingMode, FourLevelPagingIsAcceptedWhateverTheCpuSupports) {
    EXPECT_EQ(boot::paging_levels(kCr4Typical), 4u);
    EXPECT_TRUE(boot::check_paging_mode(kCr4Typical, false).ok());
    EXPECT_TRUE(boot::check_paging_mode(kCr4Typical, true).ok());
}

// The handover trampoline leaves it (common/boot/handover_trampoline.h);
// tests/test_01_boot.py boots through that way out with loader.test-la57.
TEST(PagingMode, FiveLevelPagingLeftOnIsAcceptedOnACpuWithLa57) {
    const uint64_t cr4 = kCr4Typical | x86::kCr4La57;
    EXPECT_EQ(boot::paging_levels(cr4), 5u);
    EXPECT_TRUE(boot::check_paging_mode(cr4, true).ok());
}

TEST(PagingMode, La57OnACpuWithoutItIsCalledAFirmwareBug) {
    const Violation v = boot::check_paging_mode(kCr4Typical | x86::kCr4La57, false);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(std::string(v.field), "CR4.LA57");
    EXPECT_EQ(v.value, 1u);
    EXPECT_NE(std::string(v.rule).find("firmware bug"), std::string::npos);
}

}  // namespace

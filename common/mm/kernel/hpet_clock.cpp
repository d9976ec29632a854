#include "mm/kernel/hpet_clock.h"

namespace mm {
namespace {

constexpr uint64_t kCapabilities = 0x00, kConfiguration = 0x10, kMainCounter = 0xF0;
constexpr uint64_t kEnable = 1u << 0;
constexpr uint64_t kCounter64 = 1u << 13;
constexpr uint64_t kMaxPeriodFs = 100'000'000;  // 2.3.4: at most 0x05F5E100 (100 ns)

volatile uint64_t& reg(VirtAddr base, uint64_t offset) { return *reinterpret_cast<volatile uint64_t*>(base.value() + offset); }
uint64_t load(VirtAddr base, uint64_t offset) { return reg(base, offset); }
void store(VirtAddr base, uint64_t offset, uint64_t v) { reg(base, offset) = v; }

}  // namespace

bool HpetClock::start(VirtAddr hpet, const char** refusal) {
    if (hpet.is_null()) {
        *refusal = "needs the hpet (none mapped)";
        return false;
    }
    const uint64_t caps = load(hpet, kCapabilities);
    const uint64_t period = caps >> 32;
    if (period == 0 || period > kMaxPeriodFs) {
        *refusal = "hpet period must be in (0, 100ns]";
        return false;
    }
    hpet_ = hpet;
    period_fs_ = period;
    counter_mask_ = (caps & kCounter64) ? ~uint64_t(0) : 0xFFFF'FFFFull;
    const uint64_t config = load(hpet, kConfiguration);
    if (!(config & kEnable)) store(hpet, kConfiguration, config | kEnable);
    return true;
}

uint64_t HpetClock::ticks() const { return load(hpet_, kMainCounter) & counter_mask_; }

uint64_t HpetClock::microseconds_since(uint64_t start_ticks) const {
    return ((ticks() - start_ticks) & counter_mask_) * period_fs_ / 1'000'000'000;
}

void HpetClock::wait_us(uint64_t microseconds) const {
    const uint64_t wanted = microseconds * 1'000'000'000 / period_fs_ + 1;  // ticks, rounded up
    const uint64_t start = ticks();
    while (((ticks() - start) & counter_mask_) < wanted) asm volatile("pause");
}

}  // namespace mm

// The loader's ExitBootServices loop (common/boot/exit_retry.h) against a
// scripted firmware: stale keys, a map that outgrows its buffer, failures.
#include "boot/exit_retry.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

using boot::ExitOutcome;
using boot::MapBuffer;
using boot::MapRead;

namespace {

constexpr uint64_t kDescriptor = 48;

// A firmware whose map has `map_bytes` bytes, which each allocation grows by
// one descriptor, and whose ExitBootServices answers from a script.
class ScriptedFirmware final : public boot::ExitServices {
public:
    uint64_t map_bytes = 40 * kDescriptor;
    std::deque<uint64_t> exit_answers;  // empty: success
    bool out_of_memory = false;
    std::vector<std::string> calls;  // what was called, in order
    std::vector<MapBuffer> freed;

    MapRead get_memory_map(const MapBuffer& buffer) override {
        calls.push_back("get");
        if (buffer.capacity < map_bytes) return {boot::kStatusBufferTooSmall, map_bytes, 0, kDescriptor, 1};
        return {boot::kStatusSuccess, map_bytes, ++key, kDescriptor, 1};
    }
    uint64_t exit_boot_services(uint64_t map_key) override {
        calls.push_back("exit");
        EXPECT_EQ(map_key, key) << "exit with a key the last map did not return";
        if (exit_answers.empty()) return boot::kStatusSuccess;
        const uint64_t answer = exit_answers.front();
        exit_answers.pop_front();
        return answer;
    }
    bool allocate_map_buffer(uint64_t bytes, MapBuffer* buffer) override {
        calls.push_back("allocate");
        if (out_of_memory) return false;
        map_bytes += kDescriptor;  // the allocation itself splits a free region
        *buffer = {0x100000 + 0x10000 * calls.size(), (bytes + 4095) / 4096 * 4096};
        return true;
    }
    void free_map_buffer(const MapBuffer& buffer) override {
        calls.push_back("free");
        freed.push_back(buffer);
    }

    uint64_t key = 0;
};

const MapBuffer kInitial{0x8000, 2 * 4096};  // 170 descriptors of 48 bytes

TEST(ExitRetry, ExitsAtTheFirstAttemptWhenTheKeyHolds) {
    ScriptedFirmware firmware;
    const boot::ExitResult r = boot::exit_with_final_map(firmware, kInitial);
    EXPECT_EQ(r.outcome, ExitOutcome::kExited);
    EXPECT_EQ(r.attempts, 1u);
    EXPECT_EQ(r.buffer.address, kInitial.address);
    EXPECT_EQ(r.map.size, 40 * kDescriptor);
    EXPECT_EQ(firmware.calls, (std::vector<std::string>{"get", "exit"}));
}

TEST(ExitRetry, AStaleKeyIsRetriedWithAFreshMap) {
    ScriptedFirmware firmware;
    firmware.exit_answers = {boot::kStatusInvalidParameter, boot::kStatusInvalidParameter};
    const boot::ExitResult r = boot::exit_with_final_map(firmware, kInitial);
    EXPECT_EQ(r.outcome, ExitOutcome::kExited);
    EXPECT_EQ(r.attempts, 3u);
    EXPECT_EQ(firmware.calls, (std::vector<std::string>{"get", "exit", "get", "exit", "get", "exit"}));
}

TEST(ExitRetry, AKeyThatStaysStaleEndsByName) {
    ScriptedFirmware firmware;
    firmware.exit_answers = std::deque<uint64_t>(20, boot::kStatusInvalidParameter);
    const boot::ExitResult r = boot::exit_with_final_map(firmware, kInitial);
    EXPECT_EQ(r.outcome, ExitOutcome::kKeyKeptStale);
    EXPECT_EQ(r.attempts, boot::kMaxExitAttempts);
    EXPECT_EQ(std::string(boot::exit_outcome_name(r.outcome)), "map-key-kept-stale");
}

// The map outgrew the slack between two attempts: a larger buffer is taken
// (a memory allocation service, allowed even after a failed exit), the old
// one given back, and the map read again into the new one.
TEST(ExitRetry, AMapThatOutgrowsTheBufferGetsALargerOne) {
    ScriptedFirmware firmware;
    firmware.map_bytes = kInitial.capacity + kDescriptor;
    const boot::ExitResult r = boot::exit_with_final_map(firmware, kInitial);
    ASSERT_EQ(r.outcome, ExitOutcome::kExited);
    EXPECT_EQ(r.growths, 1u);
    EXPECT_EQ(r.attempts, 1u);
    EXPECT_NE(r.buffer.address, kInitial.address);
    EXPECT_GE(r.buffer.capacity, r.map.size + boot::kSlackDescriptors * kDescriptor - kDescriptor);
    ASSERT_EQ(firmware.freed.size(), 1u);
    EXPECT_EQ(firmware.freed[0].address, kInitial.address);
    EXPECT_EQ(firmware.calls, (std::vector<std::string>{"get", "allocate", "free", "get", "exit"}));
}

TEST(ExitRetry, NoMemoryForALargerBufferEndsByName) {
    ScriptedFirmware firmware;
    firmware.map_bytes = kInitial.capacity + kDescriptor;
    firmware.out_of_memory = true;
    const boot::ExitResult r = boot::exit_with_final_map(firmware, kInitial);
    EXPECT_EQ(r.outcome, ExitOutcome::kNoMemoryForMap);
    EXPECT_EQ(r.attempts, 0u);  // boot services still whole: the console may show it
}

TEST(ExitRetry, AnExitFailureOtherThanAStaleKeyEndsAtOnceAfterItsAttempt) {
    ScriptedFirmware firmware;
    firmware.exit_answers = {0x8000'0000'0000'0007ull};  // EFI_DEVICE_ERROR
    const boot::ExitResult r = boot::exit_with_final_map(firmware, kInitial);
    EXPECT_EQ(r.outcome, ExitOutcome::kExitFailed);
    EXPECT_EQ(r.status, 0x8000'0000'0000'0007ull);
    EXPECT_EQ(r.attempts, 1u);  // the caller must not use the console, Stall or Exit now
    EXPECT_EQ(firmware.calls, (std::vector<std::string>{"get", "exit"}));
}

}  // namespace

// Violation: the first rule an input breaks, as (field, value, rule).
//
// Every validator of outside input (the kernel ELF in the loader, the handoff
// and memory map in the kernel) returns one, and the caller prints it as
//
//   [ERROR memmap] handoff rejected field=descriptor_size value=0x20 rule="must be at least 40 (sizeof EFI_MEMORY_DESCRIPTOR)"
//
// so a reader, and a test, can see exactly what was wrong.
#pragma once

#include <stdint.h>

struct [[nodiscard]] Violation {
    static constexpr uint64_t kNoIndex = ~uint64_t(0);

    const char* field;  // nullptr when the input is acceptable
    uint64_t value;
    const char* rule;
    uint64_t index = kNoIndex;  // which element of a table broke the rule, when it is one

    constexpr bool ok() const { return field == nullptr; }
    constexpr bool has_index() const { return index != kNoIndex; }
};

constexpr Violation accept() { return {nullptr, 0, nullptr}; }
constexpr Violation reject(const char* field, uint64_t value, const char* rule, uint64_t index = Violation::kNoIndex) {
    return {field, value, rule, index};
}

// A minimal non-owning string view for freestanding code.
//
// std::string_view would pull in exception-throwing members (at, substr) that a
// kernel without exceptions cannot link; this is the subset we need.
#pragma once

#include <stddef.h>

class Str {
public:
    constexpr Str() = default;
    constexpr Str(const char* data, size_t length) : data_(data), length_(length) {}
    constexpr Str(const char* c_string) : data_(c_string), length_(c_length(c_string)) {}  // NOLINT: implicit on purpose

    constexpr const char* data() const { return data_; }
    constexpr size_t size() const { return length_; }
    constexpr bool empty() const { return length_ == 0; }
    constexpr char operator[](size_t i) const { return data_[i]; }

    constexpr bool operator==(Str other) const {
        if (length_ != other.length_) return false;
        for (size_t i = 0; i < length_; ++i)
            if (data_[i] != other.data_[i]) return false;
        return true;
    }
    constexpr bool starts_with(Str prefix) const {
        return prefix.length_ <= length_ && Str(data_, prefix.length_) == prefix;
    }
    // Clamped: never reads outside the view.
    constexpr Str drop(size_t count) const {
        return count >= length_ ? Str(data_ + length_, 0) : Str(data_ + count, length_ - count);
    }
    constexpr Str take(size_t count) const { return Str(data_, count < length_ ? count : length_); }
    constexpr size_t find(char c) const {
        for (size_t i = 0; i < length_; ++i)
            if (data_[i] == c) return i;
        return length_;
    }

private:
    static constexpr size_t c_length(const char* s) {
        size_t n = 0;
        while (s && s[n]) ++n;
        return n;
    }

    const char* data_ = "";
    size_t length_ = 0;
};

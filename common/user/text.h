// A line of text for user::print, built from words and numbers (chapter 13
// on): programs report what they did, in key=value form, and the tests read it.
#pragma once

#include <stdint.h>

#include "user/user.h"

namespace user {

class Text {
public:
    Text& add(const char* text) {
        while (*text != '\0' && n_ + 1 < sizeof(buffer_)) buffer_[n_++] = *text++;
        buffer_[n_] = '\0';
        return *this;
    }
    Text& hex(uint64_t value) {
        char digits[17];
        int count = 0;
        do digits[count++] = "0123456789abcdef"[value & 0xF]; while ((value >>= 4) != 0);
        add("0x");
        while (count > 0 && n_ + 1 < sizeof(buffer_)) buffer_[n_++] = digits[--count];
        buffer_[n_] = '\0';
        return *this;
    }
    Text& dec(uint64_t value) {
        char digits[21];
        int count = 0;
        do digits[count++] = char('0' + value % 10); while ((value /= 10) != 0);
        while (count > 0 && n_ + 1 < sizeof(buffer_)) buffer_[n_++] = digits[--count];
        buffer_[n_] = '\0';
        return *this;
    }
    Text& sdec(int64_t value) {  // signed: a -errno reads as one
        if (value < 0) add("-");
        return dec(value < 0 ? uint64_t(0) - uint64_t(value) : uint64_t(value));
    }
    int64_t print() const { return user::print(buffer_); }

private:
    char buffer_[200] = {};
    uint64_t n_ = 0;
};

}  // namespace user

// The boot command line: words separated by blanks, each `flag` or `key=value`.
//
//   hold loader.dump-map log=debug
//
// Shared by the loader (which reads its own `loader.*` options) and the kernel.
#pragma once

#include "support/str.h"

class CommandLine {
public:
    constexpr explicit CommandLine(Str text) : text_(text) {}

    constexpr Str text() const { return text_; }

    // True when `flag` appears as a word of its own, or as `flag=...`.
    constexpr bool has(Str flag) const {
        for (Str rest = text_; !rest.empty();) {
            Str word = next_word(&rest);
            if (word == flag || (word.starts_with(flag) && word.size() > flag.size() && word[flag.size()] == '='))
                return true;
        }
        return false;
    }

    // The value of the first `key=value` word, or `fallback`.
    constexpr Str value(Str key, Str fallback = Str()) const {
        for (Str rest = text_; !rest.empty();) {
            Str word = next_word(&rest);
            if (word.starts_with(key) && word.size() > key.size() && word[key.size()] == '=')
                return word.drop(key.size() + 1);
        }
        return fallback;
    }

    // Calls `visit(name)` for every word, with the name before any `=`
    // (`test.fail=panic` -> `test.fail`).
    template <typename Visit>
    constexpr void for_each_name(Visit visit) const {
        for (Str rest = text_; !rest.empty();) {
            Str word = next_word(&rest);
            if (!word.empty()) visit(word.take(word.find('=')));
        }
    }

private:
    static constexpr bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

    // Splits the first word off `rest`, skipping blanks on both sides.
    static constexpr Str next_word(Str* rest) {
        size_t start = 0;
        while (start < rest->size() && is_blank((*rest)[start])) ++start;
        size_t end = start;
        while (end < rest->size() && !is_blank((*rest)[end])) ++end;
        Str word(rest->data() + start, end - start);
        *rest = rest->drop(end);
        return word;
    }

    Str text_;
};

static_assert(CommandLine("hold  x=1").has("hold") && !CommandLine("holder").has("hold"));
static_assert(CommandLine("a=1 corrupt=map-size").value("corrupt") == Str("map-size"));
static_assert([] {
    int names = 0;
    CommandLine(" hold  test.fail=panic ").for_each_name([&](Str name) { names += name == Str("test.fail") ? 10 : 1; });
    return names == 11;
}());

// Text helpers for messages. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace coffer {

// text made fit to quote in a one-line message: control characters become '?', and text
// longer than max_chars is cut (never inside a UTF-8 sequence) and ends in "...".
std::string printable_excerpt(std::string_view text, size_t max_chars = 64);

}  // namespace coffer

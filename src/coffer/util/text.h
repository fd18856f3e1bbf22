// Text helpers for messages and the civil time of timestamps. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace coffer {

// text made fit to quote in a one-line message: control characters become '?', and text
// longer than max_chars is cut (never inside a UTF-8 sequence) and ends in "...".
std::string printable_excerpt(std::string_view text, size_t max_chars = 64);

// Seconds since the Unix epoch of a UTC calendar time (month 1-12, second up to 60), for the
// timestamp parsers (RFC 3339 in repo/, S3's ISO 8601 in s3/). Fields are not range-checked.
int64_t utc_seconds(int year, int month, int day, int hour, int minute, int second);

// Reads exactly n ASCII digits of text at pos into out (sscanf would take signs, spaces and
// shorter fields); false when they are not all there.
bool fixed_digits(std::string_view text, size_t pos, size_t n, int& out);

}  // namespace coffer

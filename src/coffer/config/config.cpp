// coffer.toml: the public entry points (parse, load, durations, lookups). The schema walk that
// turns a toml++ tree into structs and problems lives in config_check.cpp.
#include "coffer/config/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <exception>
#include <limits>

#include "coffer/config/config_check.h"
#include "coffer/util/file.h"

namespace coffer::config {

namespace {

constexpr std::string_view k_duration_hint = R"((use e.g. "30s", "15m", "1h", "7d", "1h30m"))";

int64_t unit_seconds(char c) {
    switch (c) {
        case 's':
            return 1;
        case 'm':
            return 60;
        case 'h':
            return 3600;
        case 'd':
            return 86400;
        case 'w':
            return 7 * 86400;
        default:
            return 0;
    }
}

}  // namespace

std::string_view source_type_name(SourceType t) {
    switch (t) {
        case SourceType::postgres:
            return "postgres";
        case SourceType::sqlite:
            return "sqlite";
        case SourceType::files:
            return "files";
        case SourceType::s3:
            return "s3";
        case SourceType::command:
            return "command";
    }
    return "unknown";
}

const SourceConfig* SetConfig::find_source(std::string_view wanted) const {
    for (const auto& s : sources)
        if (s.name == wanted) return &s;
    return nullptr;
}

const SetConfig* Config::find_set(std::string_view wanted) const {
    for (const auto& s : sets)
        if (s.name == wanted) return &s;
    return nullptr;
}

std::string Problem::to_string(const std::string& path) const {
    if (line > 0) return path + ":" + std::to_string(line) + ": " + message;
    return path + ": " + message;
}

Result<int64_t> parse_duration(std::string_view text) {
    const auto bad = [&] {
        return invalid_argument("'" + detail::shown(text) + "' is not a duration " +
                                std::string(k_duration_hint));
    };
    if (text.empty()) return bad();
    constexpr int64_t k_max = std::numeric_limits<int64_t>::max();
    int64_t total = 0;
    int64_t previous_unit = k_max;  // units must come largest first, each at most once
    bool overflow = false;
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] < '0' || text[i] > '9') return bad();
        int64_t n = 0;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            int digit = text[i] - '0';
            if (n > (k_max - digit) / 10)
                overflow = true;
            else
                n = n * 10 + digit;
        }
        if (i == text.size()) return bad();  // a number without a unit
        int64_t unit = unit_seconds(text[i++]);
        if (unit == 0 || unit >= previous_unit) return bad();
        previous_unit = unit;
        if (overflow || n > k_max / unit || total > k_max - n * unit) {
            overflow = true;
            continue;  // keep scanning so a malformed tail is still reported as malformed
        }
        total += n * unit;
    }
    if (overflow) return invalid_argument("'" + detail::shown(text) + "' is too long a duration");
    return total;
}

Result<Config> parse(std::string_view text, const std::string& path,
                     std::vector<Problem>* problems) {
    std::vector<Problem> found;
    Config config;
    try {
        toml::table root = toml::parse(text, std::string_view(path));
        config = detail::check(root, found);
    } catch (const toml::parse_error& e) {
        found.push_back({static_cast<int>(e.source().begin.line),
                         "not valid TOML: " + std::string(e.description())});
    } catch (const std::exception& e) {
        return internal_error("reading " + path + ": " + e.what());
    }
    config.path = path;
    // Whole-file problems (line 0) first, then in file order.
    std::stable_sort(found.begin(), found.end(),
                     [](const Problem& a, const Problem& b) { return a.line < b.line; });
    if (problems) problems->insert(problems->end(), found.begin(), found.end());
    if (!found.empty()) return invalid_argument(found.front().to_string(path));
    return config;
}

Result<Config> load(const std::string& path, std::vector<Problem>* problems) {
    auto bytes = read_file(path);
    if (!bytes.ok()) {
        Status st = bytes.status();
        if (st.code() == Code::not_found)
            st = not_found("config file " + path + " does not exist");
        else
            st = st.with_context("cannot read config file " + path);
        if (problems) problems->push_back({0, st.message()});
        return st;
    }
    std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
    return parse(text, path, problems);
}

}  // namespace coffer::config

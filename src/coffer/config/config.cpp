// coffer.toml: the public entry points (parse, load, lookups). The schema walk that turns a toml++
// tree into structs and problems lives in config_check.cpp; durations are parsed by retention.
#include "coffer/config/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <exception>

#include "coffer/config/config_check.h"
#include "coffer/util/file.h"

namespace coffer::config {

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

// coffer.toml (config/config.h): config::parse over arbitrary text.
//
// Checks: a failure is Code::invalid_argument (anything else means an exception escaped the
// schema walk) whose message is the first problem reported, and problems are reported exactly on
// failure; parsing is deterministic; and an accepted config holds what the schema promises:
// set and source names of [A-Za-z0-9_.-]+, unique; a schedule that Schedule::parse accepts in the
// set's time zone; retention policies with at least one rule; fractions within 0..1.
#include <set>
#include <string>
#include <vector>

#include "coffer/config/config.h"
#include "coffer/schedule/schedule.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::config;

namespace {

bool valid_name(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    return true;
}

void check_config(const Config& c) {
    FUZZ_CHECK(c.path == "fuzz.toml");
    FUZZ_CHECK(!c.repository.url.empty());
    FUZZ_CHECK(c.repository.connections <= 256);
    FUZZ_CHECK(c.repository.object_lock_mode.empty() == (c.repository.object_lock_days == 0));
    FUZZ_CHECK(c.server.prune_max_unused >= 0 && c.server.prune_max_unused <= 1);
    FUZZ_CHECK(c.server.prune_grace_s >= 0);
    std::set<std::string> sets;
    for (const SetConfig& s : c.sets) {
        FUZZ_CHECK_MSG(valid_name(s.name), "set name '" + s.name + "'");
        FUZZ_CHECK_MSG(sets.insert(s.name).second, "duplicate set '" + s.name + "'");
        FUZZ_CHECK(c.find_set(s.name) == &s);
        FUZZ_CHECK(s.max_shrink >= 0 && s.max_shrink <= 1);
        if (s.rpo_seconds) FUZZ_CHECK(*s.rpo_seconds >= 0);
        if (s.rto_seconds) FUZZ_CHECK(*s.rto_seconds >= 0);
        if (s.retention) FUZZ_CHECK(!s.retention->empty());
        if (!s.schedule.empty()) {
            auto sched = schedule::Schedule::parse(s.schedule, s.timezone);
            FUZZ_CHECK_MSG(sched.ok(), "accepted schedule '" + s.schedule + "' in '" + s.timezone +
                                           "': " + sched.status().to_string());
        }
        std::set<std::string> sources;
        for (const SourceConfig& src : s.sources) {
            FUZZ_CHECK_MSG(valid_name(src.name), "source name '" + src.name + "'");
            FUZZ_CHECK_MSG(sources.insert(src.name).second, "duplicate source '" + src.name + "'");
            FUZZ_CHECK(s.find_source(src.name) == &src);
            if (src.type == SourceType::files) FUZZ_CHECK(!src.paths.empty());
            if (src.type == SourceType::sqlite) FUZZ_CHECK(!src.path.empty());
            if (src.type == SourceType::postgres) FUZZ_CHECK(!src.dsn.empty());
            if (src.type == SourceType::s3) FUZZ_CHECK(!src.url.empty());
            if (src.type == SourceType::command) FUZZ_CHECK(!src.backup_command.empty());
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<Problem> problems;
    auto c = parse(text, "fuzz.toml", &problems);
    if (c.ok()) {
        FUZZ_CHECK_MSG(problems.empty(), problems.front().to_string("fuzz.toml"));
        check_config(*c);
    } else {
        FUZZ_CHECK_MSG(c.status().code() == Code::invalid_argument, c.status().to_string());
        FUZZ_CHECK(!problems.empty());
        FUZZ_CHECK_MSG(c.status().message() == problems.front().to_string("fuzz.toml"),
                       c.status().message());
        for (const Problem& p : problems) FUZZ_CHECK(!p.message.empty() && p.line >= 0);
    }
    // The same text, the same verdict (no hidden state between parses).
    std::vector<Problem> again;
    auto c2 = parse(text, "fuzz.toml", &again);
    FUZZ_CHECK(c2.ok() == c.ok() && again.size() == problems.size());
    if (!c.ok()) FUZZ_CHECK(c2.status().message() == c.status().message());
    return 0;
}

// The audit entry schema shared by writer and verifier, and its RFC 3339 times.
#include "coffer/audit/entry.h"

#include <chrono>
#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace coffer::audit {
namespace {

using json = nlohmann::json;

constexpr int64_t k_t0 = 1714564800;  // 2024-05-01T12:00:00Z

json valid_entry() {
    return {{"schema", "coffer.audit.entry/v1"},
            {"origin", "o"},
            {"index", 3},
            {"time", "2024-05-01T12:00:00.250Z"},
            {"actor", "alice"},
            {"host", "db1"},
            {"action", "backup.run"},
            {"target", "set/pg"},
            {"outcome", "failed"},
            {"error", "disk full"},
            {"details", {{"bytes", 12}, {"ok", false}}}};
}

TEST(AuditEntry, EncodeGivesCanonicalBytesAndAddsNothing) {
    auto bytes = encode_entry(valid_entry());
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    EXPECT_EQ(*bytes, R"({"action":"backup.run","actor":"alice","details":{"bytes":12,"ok":false},)"
                      R"("error":"disk full","host":"db1","index":3,"origin":"o",)"
                      R"("outcome":"failed","schema":"coffer.audit.entry/v1","target":"set/pg",)"
                      R"("time":"2024-05-01T12:00:00.250Z"})");
    json no_error = valid_entry();
    no_error.erase("error");
    EXPECT_TRUE(encode_entry(no_error).ok());
}

TEST(AuditEntry, SchemaViolations) {
    struct Case {
        const char* what;
        std::function<void(json&)> edit;
    };
    const Case cases[] = {
        {"unknown field", [](json& e) { e["extra"] = 1; }},
        {"missing field 'actor'", [](json& e) { e.erase("actor"); }},
        {"missing field 'details'", [](json& e) { e.erase("details"); }},
        {"schema is", [](json& e) { e["schema"] = "coffer.audit.entry/v2"; }},
        {"field 'origin' is empty", [](json& e) { e["origin"] = ""; }},
        {"field 'index' is not a non-negative integer", [](json& e) { e["index"] = -1; }},
        {"field 'index' is not a non-negative integer", [](json& e) { e["index"] = "3"; }},
        {"not RFC 3339", [](json& e) { e["time"] = "2024-05-01 12:00:00Z"; }},
        {"field 'host' is not a string", [](json& e) { e["host"] = 1; }},
        {"outcome 'maybe'", [](json& e) { e["outcome"] = "maybe"; }},
        {"field 'error' is not a string", [](json& e) { e["error"] = nullptr; }},
        {"field 'details' is not an object", [](json& e) { e["details"] = json::array(); }},
        {"non-integer", [](json& e) { e["details"]["ratio"] = 0.5; }},
        {"details: missing field 'key'",
         [](json& e) {
             e["action"] = "audit.key.activate";
             e["outcome"] = "ok";
         }},
        {"details.key: malformed verifier key",
         [](json& e) {
             e["action"] = "audit.key.activate";
             e["outcome"] = "ok";
             e["details"] = {{"key", "nope"}};
         }},
        {"must have outcome \"ok\"",
         [](json& e) {
             e["action"] = "audit.key.retire";
             e["details"] = {{"key_id", "c74f20a3"}};
         }},
        {"8 lowercase hex digits",
         [](json& e) {
             e["action"] = "audit.key.retire";
             e["outcome"] = "ok";
             e["details"] = {{"key_id", "C74F20A3"}};
         }},
    };
    for (const Case& c : cases) {
        json e = valid_entry();
        c.edit(e);
        auto r = encode_entry(e);
        EXPECT_EQ(r.status().code(), Code::invalid_argument) << c.what;
        EXPECT_NE(r.status().message().find(c.what), std::string::npos)
            << c.what << " / " << r.status().message();
    }
    EXPECT_EQ(encode_entry(json::array()).status().code(), Code::invalid_argument);
}

TEST(AuditEntry, Rfc3339Times) {
    auto t = parse_entry_time("2024-05-01T12:00:00Z");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->seconds, k_t0);
    EXPECT_EQ(t->nanos, 0u);
    EXPECT_EQ(parse_entry_time("1970-01-01T00:00:00.000000001Z")->nanos, 1u);
    EXPECT_EQ(parse_entry_time("2024-05-01T12:00:00.25Z")->nanos, 250000000u);
    EXPECT_EQ(parse_entry_time("2024-02-29T23:59:59Z")->seconds, 1709251199);
    EXPECT_EQ(parse_entry_time("1969-12-31T23:59:59Z")->seconds, -1);
    for (const char* bad :
         {"2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-04-31T00:00:00Z",
          "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z", "2024-05-01T12:00:60Z",
          "2024-05-01T12:00:00+00:00", "2024-05-01T12:00:00z", "2024-05-01t12:00:00Z",
          "2024-05-01T12:00:00", "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00.1234567890Z",
          "2024-5-01T12:00:00Z", " 2024-05-01T12:00:00Z", "2024-05-01T12:00:0aZ", ""})
        EXPECT_FALSE(parse_entry_time(bad).ok()) << bad;

    using namespace std::chrono;
    const auto tp = system_clock::time_point(seconds(k_t0) + milliseconds(7));
    EXPECT_EQ(format_entry_time(tp), "2024-05-01T12:00:00.007Z");
    auto back = parse_entry_time(format_entry_time(tp));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->seconds, k_t0);
    EXPECT_EQ(back->nanos, 7000000u);
}

}  // namespace
}  // namespace coffer::audit

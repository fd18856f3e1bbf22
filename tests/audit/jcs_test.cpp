// RFC 8785 canonical JSON. The expected strings are the RFC's own examples (§3.2.2.2 string
// escaping, §3.2.3 member ordering), written out by hand, never produced by the code under test.
#include "coffer/audit/jcs.h"

#include <cstdint>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace coffer::audit {
namespace {

using json = nlohmann::json;

std::string canon(const json& v) {
    auto r = canonical_json(v);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : std::string("<error>");
}

std::string canon_text(const char* text) {
    return canon(json::parse(text));
}

Code error_code(const json& v) {
    return canonical_json(v).status().code();
}

// RFC 8785 §3.2.3: members sorted by UTF-16 code units. U+1F600 (surrogates D83D DE00) sorts
// before U+FB33 although its code point is larger, which a UTF-8 or code point sort gets wrong.
TEST(CanonicalJson, Rfc8785MemberOrdering) {
    const char* input = R"({
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    })";
    EXPECT_EQ(
        canon_text(input),
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
        "\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\","
        "\"😀\":\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

// RFC 8785 §3.2.2 (the sample's "literals" and "string" members; its "numbers" are floats, which
// coffer refuses) with the output of §3.2.4.
TEST(CanonicalJson, Rfc8785LiteralsAndStrings) {
    const char* input = R"({
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
    })";
    EXPECT_EQ(canon_text(input),
              R"({"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"})");
}

TEST(CanonicalJson, EscapesEveryControlCharacterLikeJsonStringify) {
    std::string all;
    for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
    all += "\x7f/\"\\";
    EXPECT_EQ(canon(json(all)),
              "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
              "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
              "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\x7f/\\\"\\\\\"");
}

TEST(CanonicalJson, NeverEmitsARawNewline) {
    const json v = {{"a\nb", "line one\nline two\r\n"}, {"x", {"\n", {{"\n", "\n"}}}}};
    const std::string out = canon(v);
    EXPECT_EQ(out.find('\n'), std::string::npos) << out;
    EXPECT_EQ(out.find('\r'), std::string::npos) << out;
}

TEST(CanonicalJson, NestedValuesAreSortedAndCompact) {
    EXPECT_EQ(canon_text(R"( { "b" : [ 1 , { "z" : 0 , "a" : [ ] } ] , "a" : { } } )"),
              R"({"a":{},"b":[1,{"a":[],"z":0}]})");
    EXPECT_EQ(canon_text(R"([])"), "[]");
    EXPECT_EQ(canon_text(R"("")"), "\"\"");
    // Prefix order: a shorter name sorts first.
    EXPECT_EQ(canon_text(R"({"ab":1,"a":2,"":3,"b":4})"), R"({"":3,"a":2,"ab":1,"b":4})");
}

TEST(CanonicalJson, OutputIsAFixedPoint) {
    const std::string once = canon_text(R"({"k":[{"\u00e9":"\u0001","e":-7}],"t":true})");
    EXPECT_EQ(canon(json::parse(once)), once);
}

TEST(CanonicalJson, IntegersWithinTwoToThe53) {
    constexpr int64_t k_max = int64_t{1} << 53;
    EXPECT_EQ(canon(json(0)), "0");
    EXPECT_EQ(canon(json(-1)), "-1");
    EXPECT_EQ(canon(json(k_max)), "9007199254740992");
    EXPECT_EQ(canon(json(-k_max)), "-9007199254740992");
    EXPECT_EQ(canon(json(static_cast<uint64_t>(k_max))), "9007199254740992");
    EXPECT_EQ(canon_text("-0"), "0");
    EXPECT_EQ(canon_text("[18446744]"), "[18446744]");

    EXPECT_EQ(error_code(json(k_max + 1)), Code::invalid_argument);
    EXPECT_EQ(error_code(json(-k_max - 1)), Code::invalid_argument);
    EXPECT_EQ(error_code(json(static_cast<uint64_t>(k_max) + 1)), Code::invalid_argument);
    EXPECT_EQ(error_code(json(UINT64_MAX)), Code::invalid_argument);
    EXPECT_EQ(error_code(json(INT64_MIN)), Code::invalid_argument);
}

TEST(CanonicalJson, RejectsNonIntegerNumbers) {
    for (const char* text : {"1.0", "1.5", "1e2", "-0.0", "[0.5]", R"({"a":{"b":2.5}})",
                             "123456789012345678901234567890"}) {
        auto r = canonical_json(json::parse(text));
        EXPECT_EQ(r.status().code(), Code::invalid_argument) << text;
    }
    auto r = canonical_json(json::parse(R"({"a":{"b":[1,2.5]}})"));
    EXPECT_NE(r.status().message().find("$.a.b[1]"), std::string::npos) << r.status().message();
}

TEST(CanonicalJson, RejectsInvalidUtf8InStringsAndNames) {
    for (const char* bad : {
             "\xff",                    // never valid
             "\x80",                    // stray continuation byte
             "\xc0\xaf",                // overlong '/'
             "\xe0\x80\xaf",            // overlong, three bytes
             "\xed\xa0\x80",            // UTF-16 surrogate D800
             "\xf4\x90\x80\x80",        // above U+10FFFF
             "\xe2\x82",                // truncated euro sign
             "ok\xe2\x82\xac\xe2\x82",  // valid then truncated
         }) {
        EXPECT_EQ(error_code(json(std::string(bad))), Code::invalid_argument) << bad;
        EXPECT_EQ(error_code(json{{std::string(bad), 1}}), Code::invalid_argument) << bad;
    }
    // The boundaries that are valid.
    EXPECT_EQ(canon(json("\xf4\x8f\xbf\xbf")), "\"\xf4\x8f\xbf\xbf\"");  // U+10FFFF
    EXPECT_EQ(canon(json("\xee\x80\x80")), "\"\xee\x80\x80\"");          // U+E000
}

TEST(CanonicalJson, RejectsBinaryAndDeepNesting) {
    EXPECT_EQ(error_code(json::binary({1, 2, 3})), Code::invalid_argument);
    json deep = json::array();
    for (int i = 0; i < k_max_depth + 1; ++i) deep = json::array({deep});
    EXPECT_EQ(error_code(deep), Code::invalid_argument);
    json ok = json::array();
    for (int i = 0; i < k_max_depth - 1; ++i) ok = json::array({ok});
    EXPECT_TRUE(canonical_json(ok).ok());
}

}  // namespace
}  // namespace coffer::audit

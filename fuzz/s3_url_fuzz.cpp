// S3 locations and URI encoding (s3/url.h).
//
// Checks: an accepted URL prints (to_string) as something that parses to the same location, its
// bucket follows the naming rule, its prefix is a valid store name (what S3Store puts before
// every object name); uri_decode inverts uri_encode for any bytes, and uri_encode leaves only
// unreserved characters, "%XX" and (when asked) '/'.
#include <string>

#include "coffer/s3/url.h"
#include "coffer/store/store.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::s3;

namespace {

bool encoded_form(const std::string& s, bool keep_slash) {
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved || (keep_slash && c == '/')) continue;
        if (c != '%' || i + 2 >= s.size()) return false;
        for (size_t k = 1; k <= 2; ++k) {
            char h = s[i + k];
            if (!((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'))) return false;
        }
        i += 2;
    }
    return true;
}

bool valid_bucket(const std::string& b) {
    if (b.size() < 3 || b.size() > 63) return false;
    for (char c : b)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    std::string_view text(reinterpret_cast<const char*>(data), size);

    for (bool keep : {false, true}) {
        std::string enc = uri_encode(text, keep);
        FUZZ_CHECK_MSG(encoded_form(enc, keep), enc);
        FUZZ_CHECK(uri_decode(enc) == text);
    }
    (void)uri_decode(text);

    auto loc = parse_url(text);
    if (!loc.ok()) {
        FUZZ_CHECK(loc.status().code() == Code::invalid_argument);
        return 0;
    }
    FUZZ_CHECK(loc->endpoint.rfind("http://", 0) == 0 || loc->endpoint.rfind("https://", 0) == 0);
    FUZZ_CHECK(loc->endpoint.back() != '/');
    FUZZ_CHECK_MSG(valid_bucket(loc->bucket), loc->bucket);
    if (!loc->prefix.empty()) {
        FUZZ_CHECK(loc->prefix.front() != '/' && loc->prefix.back() != '/');
        Status st = store::validate_name(loc->prefix);
        FUZZ_CHECK_MSG(st.ok(),
                       "prefix '" + loc->prefix + "' is no valid store name: " + st.to_string());
        FUZZ_CHECK(store::validate_name(loc->prefix + "/config").ok());
    }
    std::string printed = loc->to_string();
    auto back = parse_url(printed);
    FUZZ_CHECK_MSG(back.ok(), printed + ": " + back.status().to_string());
    FUZZ_CHECK(back->endpoint == loc->endpoint && back->bucket == loc->bucket &&
               back->prefix == loc->prefix);
    FUZZ_CHECK(back->to_string() == printed);
    return 0;
}

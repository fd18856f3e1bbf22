// PostgreSQL DSNs from coffer.toml (source/pg.h: parse_dsn, Target::conninfo).
//
// Checks: an error is one of the fixed messages, so it never echoes the DSN (which may hold a
// password); what parses has a database;
// the conninfo given to libpq and pg tools holds no password and parses back to exactly the same
// parameters (so no value can smuggle in a keyword of its own, such as host= or password=), also
// with a fuzzed database name standing in; describe() depends on those parameters alone.
#include <string>

#include "coffer/source/pg.h"
#include "fuzz_common.h"

using namespace coffer;
using coffer::source::pg::parse_dsn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Cursor in(data, size);
    std::string override_name = fuzz::str(in.take(in.u8() % 32));
    std::string dsn = fuzz::str(in.rest());
    if (dsn.find('\0') != std::string::npos || override_name.find('\0') != std::string::npos)
        return 0;  // a C string cannot hold one; nothing in coffer.toml can either
    auto t = parse_dsn(dsn);
    if (!t.ok()) {
        FUZZ_CHECK(t.status().code() == Code::invalid_argument);
        // The message is one of the fixed ones (a malformed DSN, one with no database): it
        // never depends on, so never echoes, what the DSN holds.
        static const std::string malformed = parse_dsn("=").status().message();
        static const std::string no_database = parse_dsn("host=x").status().message();
        FUZZ_CHECK_MSG(t.status().message() == malformed || t.status().message() == no_database,
                       "the error depends on the DSN: " + t.status().message());
        return 0;
    }
    FUZZ_CHECK(!t->dbname.empty());
    FUZZ_CHECK(t->params.count("password") == 0 && t->params.count("sslpassword") == 0);
    for (const std::string& name : {std::string(), override_name}) {
        std::string conninfo = t->conninfo(name);
        auto back = parse_dsn(conninfo);
        FUZZ_CHECK_MSG(back.ok(), "conninfo does not parse: " + conninfo);
        FUZZ_CHECK_MSG(back->password.empty() && back->sslpassword.empty(),
                       "a password reached the conninfo: " + conninfo);
        auto want = t->params;
        if (!name.empty()) want["dbname"] = name;
        if (!want.count("connect_timeout")) want["connect_timeout"] = "10";
        FUZZ_CHECK_MSG(back->params == want, "conninfo changes the parameters: " + conninfo);
    }
    // describe() depends on the parameters alone: the same for the password-free re-parse.
    auto again = parse_dsn(t->conninfo());
    FUZZ_CHECK(again.ok() && again->describe() == t->describe());
    return 0;
}

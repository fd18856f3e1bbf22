#include "coffer/config/config.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace coffer::config {
namespace {

constexpr const char* k_example = R"([repository]
url = "/var/backups/coffer"            # later also s3:http(s)://host:port/bucket/prefix
host_key = "/etc/coffer/host.key"

[[set]]
name = "platform"
rpo = "1h"
rto = "4h"
pre_restore = "systemctl stop platform"
post_restore = "systemctl start platform"
health_check = "curl -fsS http://127.0.0.1:8080/healthz"

  [[set.source]]
  name = "db"
  type = "postgres"
  dsn = "postgresql://postgres@127.0.0.1:5432/platform"

  [[set.source]]
  name = "state"
  type = "sqlite"
  path = "/var/lib/platform/state.db"

  [[set.source]]
  name = "config"
  type = "files"
  paths = ["/etc/platform"]
  exclude = ["*.tmp"]

  [[set.source]]
  name = "recordings"
  type = "s3"
  url = "s3:http://127.0.0.1:9000/recordings"

  [[set.source]]
  name = "directory"
  type = "command"
  backup_command = "slapcat"
  restore_command = "slapadd"
)";

// A valid head: [repository] on lines 1-2, one set on lines 4-5 whose first source (a files
// source) is on lines 7-10. Tests append from line 11 on.
constexpr const char* k_head = R"([repository]
url = "/srv/backup"

[[set]]
name = "app"

  [[set.source]]
  name = "etc"
  type = "files"
  paths = ["/etc/app"]
)";

std::string join(const std::vector<Problem>& problems) {
    std::string out;
    for (const auto& p : problems) out += "\n  " + p.to_string("c.toml");
    return out;
}

// Parses text that must fail; returns every problem.
std::vector<Problem> problems_of(const std::string& text) {
    std::vector<Problem> problems;
    auto r = parse(text, "c.toml", &problems);
    EXPECT_FALSE(r.ok()) << "expected problems in:\n" << text;
    if (!r.ok()) {
        EXPECT_EQ(r.status().code(), Code::invalid_argument);
        EXPECT_FALSE(problems.empty());
        if (!problems.empty()) {
            EXPECT_EQ(r.status().message(), problems.front().to_string("c.toml"));
        }
    }
    return problems;
}

// True when some problem is on line and contains every one of the fragments.
bool has(const std::vector<Problem>& problems, int line, std::vector<std::string> fragments) {
    for (const auto& p : problems) {
        if (p.line != line) continue;
        bool all = true;
        for (const auto& f : fragments) all = all && p.message.find(f) != std::string::npos;
        if (all) return true;
    }
    return false;
}

Config parse_ok(const std::string& text) {
    std::vector<Problem> problems;
    auto r = parse(text, "c.toml", &problems);
    EXPECT_TRUE(r.ok()) << r.status().to_string() << join(problems);
    EXPECT_TRUE(problems.empty());
    return r.ok() ? *r : Config{};
}

TEST(Config, ExampleParses) {
    Config c = parse_ok(k_example);
    EXPECT_EQ(c.path, "c.toml");
    EXPECT_EQ(c.repository.url, "/var/backups/coffer");
    EXPECT_EQ(c.repository.host_key, "/etc/coffer/host.key");
    EXPECT_EQ(c.repository.recovery_key_file, "");
    EXPECT_TRUE(c.repository.mirrors.empty());
    ASSERT_EQ(c.sets.size(), 1u);
    const SetConfig& s = c.sets[0];
    EXPECT_EQ(s.name, "platform");
    EXPECT_EQ(s.line, 5);
    EXPECT_EQ(s.rpo_seconds, 3600);
    EXPECT_EQ(s.rto_seconds, 4 * 3600);
    EXPECT_EQ(s.pre_restore, "systemctl stop platform");
    EXPECT_EQ(s.post_restore, "systemctl start platform");
    EXPECT_EQ(s.health_check, "curl -fsS http://127.0.0.1:8080/healthz");
    ASSERT_EQ(s.sources.size(), 5u);

    const SourceConfig& db = s.sources[0];
    EXPECT_EQ(db.name, "db");
    EXPECT_EQ(db.type, SourceType::postgres);
    EXPECT_EQ(db.line, 13);
    EXPECT_EQ(db.dsn, "postgresql://postgres@127.0.0.1:5432/platform");
    EXPECT_EQ(db.pg_dump, "pg_dump");
    EXPECT_EQ(db.psql, "psql");

    const SourceConfig& state = s.sources[1];
    EXPECT_EQ(state.type, SourceType::sqlite);
    EXPECT_EQ(state.path, "/var/lib/platform/state.db");
    EXPECT_EQ(state.line, 18);

    const SourceConfig& files = s.sources[2];
    EXPECT_EQ(files.type, SourceType::files);
    EXPECT_EQ(files.paths, std::vector<std::string>{"/etc/platform"});
    EXPECT_EQ(files.exclude, std::vector<std::string>{"*.tmp"});

    const SourceConfig& rec = s.sources[3];
    EXPECT_EQ(rec.type, SourceType::s3);
    EXPECT_EQ(rec.url, "s3:http://127.0.0.1:9000/recordings");

    const SourceConfig& dir = s.sources[4];
    EXPECT_EQ(dir.type, SourceType::command);
    EXPECT_EQ(dir.backup_command, "slapcat");
    EXPECT_EQ(dir.restore_command, "slapadd");

    EXPECT_EQ(c.find_set("platform"), &c.sets[0]);
    EXPECT_EQ(c.find_set("nope"), nullptr);
    EXPECT_EQ(s.find_source("recordings"), &s.sources[3]);
    EXPECT_EQ(s.find_source("nope"), nullptr);
}

TEST(Config, DefaultsApplied) {
    Config c = parse_ok(k_head);
    ASSERT_EQ(c.sets.size(), 1u);
    const SetConfig& s = c.sets[0];
    EXPECT_FALSE(s.rpo_seconds.has_value());
    EXPECT_FALSE(s.rto_seconds.has_value());
    EXPECT_EQ(s.min_size, 1u);
    EXPECT_DOUBLE_EQ(s.max_shrink, 0.5);
    EXPECT_TRUE(s.fail_on_shrink);
    EXPECT_TRUE(s.tags.empty());
    EXPECT_TRUE(s.pre_restore.empty());
    ASSERT_EQ(s.sources.size(), 1u);
    EXPECT_TRUE(s.sources[0].exclude.empty());
    EXPECT_EQ(s.sources[0].pg_dump, "pg_dump");
    EXPECT_EQ(s.sources[0].psql, "psql");
    EXPECT_EQ(s.sources[0].pg_dumpall, "pg_dumpall");
    EXPECT_TRUE(s.sources[0].roles);
    EXPECT_TRUE(s.schedule.empty());
    EXPECT_EQ(s.timezone, "UTC");
    EXPECT_TRUE(c.server.state_dir.empty());
    EXPECT_EQ(c.server.listen, "127.0.0.1:8443");
    EXPECT_TRUE(c.server.webhook_url.empty());
    EXPECT_TRUE(c.server.on_failure.empty());
    EXPECT_TRUE(c.server.catch_up);
    EXPECT_TRUE(c.server.prune);
    EXPECT_EQ(c.server.prune_grace_s, 3600);
    EXPECT_DOUBLE_EQ(c.server.prune_max_unused, 0.2);
}

TEST(Config, EveryOptionRead) {
    Config c = parse_ok(R"([repository]
url = "s3:https://s3.example.com:9000/backups/coffer"
host_key = "/k/host.key"
recovery_key_file = "/k/recovery"
cache_dir = "/var/cache/coffer"
mirrors = ["/mnt/mirror", "s3:http://10.0.0.1/m"]

[[set]]
name = "a.b-c_1"
min_size = 4096
max_shrink = 1
on_shrink = "warn"
tags = ["prod", "eu"]
  [[set.source]]
  name = "pg"
  type = "postgres"
  dsn = "postgresql://u@h/db"
  pg_dump = "/usr/lib/postgresql/16/bin/pg_dump"
  pg_dumpall = "/usr/lib/postgresql/16/bin/pg_dumpall"
  psql = "/usr/lib/postgresql/16/bin/psql"
  roles = false
  [[set.source]]
  name = "b"
  type = "s3"
  url = "s3:https://s3.example.com/bucket"
  access_key_id = "AK"
  secret_access_key = "SK"
  region = "eu-west-1"

[[set]]
name = "second"
max_shrink = 0.25
source = [{ name = "x", type = "sqlite", path = "/x.db" }]
)");
    EXPECT_EQ(c.repository.url, "s3:https://s3.example.com:9000/backups/coffer");
    EXPECT_EQ(c.repository.recovery_key_file, "/k/recovery");
    EXPECT_EQ(c.repository.cache_dir, "/var/cache/coffer");
    EXPECT_EQ(c.repository.mirrors,
              (std::vector<std::string>{"/mnt/mirror", "s3:http://10.0.0.1/m"}));
    ASSERT_EQ(c.sets.size(), 2u);
    const SetConfig& s = c.sets[0];
    EXPECT_EQ(s.min_size, 4096u);
    EXPECT_DOUBLE_EQ(s.max_shrink, 1.0);
    EXPECT_FALSE(s.fail_on_shrink);
    EXPECT_EQ(s.tags, (std::vector<std::string>{"prod", "eu"}));
    ASSERT_EQ(s.sources.size(), 2u);
    EXPECT_EQ(s.sources[0].pg_dump, "/usr/lib/postgresql/16/bin/pg_dump");
    EXPECT_EQ(s.sources[0].psql, "/usr/lib/postgresql/16/bin/psql");
    EXPECT_EQ(s.sources[0].pg_dumpall, "/usr/lib/postgresql/16/bin/pg_dumpall");
    EXPECT_FALSE(s.sources[0].roles);
    EXPECT_EQ(s.sources[1].access_key_id, "AK");
    EXPECT_EQ(s.sources[1].secret_access_key, "SK");
    EXPECT_EQ(s.sources[1].region, "eu-west-1");
    EXPECT_DOUBLE_EQ(c.sets[1].max_shrink, 0.25);
    ASSERT_EQ(c.sets[1].sources.size(), 1u);
    EXPECT_EQ(c.sets[1].sources[0].path, "/x.db");
}

TEST(Config, NoSetsIsValid) {
    Config c = parse_ok("[repository]\nurl = \"/r\"\n");
    EXPECT_TRUE(c.sets.empty());
}

TEST(ConfigErrors, UnknownKeySuggestsClosest) {
    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "platform"
  [[set.source]]
  name = "db"
  type = "postgres"
  dns = "postgresql://u@h/db"
)");
    EXPECT_TRUE(has(p, 8, {"unknown key 'dns' in [[set.source]] (did you mean 'dsn'?)"}))
        << join(p);
    // The misspelt key leaves dsn missing, reported on the source's line.
    EXPECT_TRUE(has(p, 5,
                    {"set 'platform': source 'db': dsn is required for a postgres source "
                     "(e.g. \"postgresql://user@127.0.0.1:5432/db\")"}))
        << join(p);
}

TEST(ConfigErrors, UnknownKeyWithoutCloseMatchListsValidKeys) {
    auto p = problems_of(std::string(k_head) + "colour = \"blue\"\n[repositry]\n");
    EXPECT_TRUE(has(p, 11, {"unknown key 'colour'", "expected one of:", "paths", "exclude"}))
        << join(p);
    EXPECT_TRUE(has(p, 12, {"unknown key 'repositry' at the top level", "'repository'"}))
        << join(p);
    auto q = problems_of("[repository]\nurl = \"/r\"\nhostkey = \"/k\"\n");
    EXPECT_TRUE(has(q, 3, {"[repository]: unknown key 'hostkey'", "did you mean 'host_key'"}))
        << join(q);
    auto r = problems_of(R"([repository]
url = "/r"
[[set]]
name = "a"
rop = "1h"
source = [{ name = "x", type = "sqlite", path = "/x" }]
)");
    EXPECT_TRUE(has(r, 5, {"set 'a': unknown key 'rop' in [[set]] (did you mean 'rpo'?)"}))
        << join(r);
}

TEST(ConfigErrors, KeyOfAnotherTypeDoesNotApply) {
    auto p = problems_of(std::string(k_head) + "  dsn = \"postgresql://x\"\n");
    EXPECT_TRUE(has(p, 11, {"source 'etc'", "'dsn' does not apply to a files source", "postgres"}))
        << join(p);
}

TEST(ConfigErrors, BadDuration) {
    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "platform"
rpo = "1 hour"
rto = 3600
  [[set.source]]
  name = "x"
  type = "sqlite"
  path = "/x"
)");
    EXPECT_TRUE(has(p, 5,
                    {"set 'platform': rpo: '1 hour' is not a duration (use e.g. \"30s\", "
                     "\"15m\", \"1h\", \"7d\", \"1h30m\")"}))
        << join(p);
    EXPECT_TRUE(has(p, 6, {"rto must be a duration string", "not an integer"})) << join(p);
    auto q = problems_of(std::string(k_head).replace(std::string(k_head).find("name = \"app\""), 12,
                                                     "name = \"app\"\nrpo = \"0s\""));
    EXPECT_TRUE(has(q, 6, {"rpo must be longer than zero"})) << join(q);
}

TEST(ConfigErrors, TheSafetySnapshotTagIsReserved) {
    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "app"
tags = ["prod", "safety-snapshot"]
  [[set.source]]
  name = "files"
  type = "files"
  paths = ["/etc/app"]
)");
    EXPECT_TRUE(has(p, 5, {"set 'app': tags must not hold \"safety-snapshot\""})) << join(p);
}

TEST(ConfigErrors, WrongTypes) {
    auto p = problems_of(R"([repository]
url = 5
host_key = true
mirrors = "/m"
[[set]]
name = "s"
pre_restore = ["a"]
tags = ["ok", 3]
min_size = "1MiB"
  [[set.source]]
  name = "files"
  type = "files"
  paths = 7
  [[set.source]]
  name = 12
  type = "sqlite"
  path = "/x"
  [[set.source]]
  name = "pg"
  type = "postgres"
  dsn = "postgresql://u@h/db"
  roles = "yes"
)");
    EXPECT_TRUE(has(p, 2, {"[repository]: url must be a string, not an integer"})) << join(p);
    EXPECT_TRUE(has(p, 3, {"host_key must be a string, not a boolean"})) << join(p);
    EXPECT_TRUE(has(p, 4, {"mirrors must be an array of strings, not a string"})) << join(p);
    EXPECT_TRUE(has(p, 7, {"set 's': pre_restore must be a string, not an array"})) << join(p);
    EXPECT_TRUE(has(p, 8, {"tags: element 2 must be a string, not an integer"})) << join(p);
    EXPECT_TRUE(has(p, 9, {"min_size must be an integer (bytes), not a string"})) << join(p);
    EXPECT_TRUE(
        has(p, 13, {"set 's': source 'files': paths must be an array of strings, not an integer"}))
        << join(p);
    EXPECT_TRUE(has(p, 15, {"set 's': source #2: name must be a string, not an integer"}))
        << join(p);
    EXPECT_TRUE(has(p, 22, {"source 'pg': roles must be true or false, not a string"})) << join(p);
    EXPECT_FALSE(has(p, 2, {"url is required"})) << join(p);
}

TEST(ConfigErrors, DuplicateNames) {
    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "a"
  [[set.source]]
  name = "x"
  type = "sqlite"
  path = "/x"
  [[set.source]]
  name = "x"
  type = "sqlite"
  path = "/y"
[[set]]
name = "a"
  [[set.source]]
  name = "x"
  type = "sqlite"
  path = "/z"
)");
    EXPECT_TRUE(has(p, 14, {"duplicate set name 'a'", "line 4"})) << join(p);
    EXPECT_TRUE(has(p, 10, {"set 'a': duplicate source name 'x'", "line 6"})) << join(p);
    // The same source name in another set is fine.
    EXPECT_FALSE(has(p, 16, {"duplicate"})) << join(p);
    EXPECT_EQ(p.size(), 2u) << join(p);
}

TEST(ConfigErrors, BadType) {
    auto p = problems_of(std::string(k_head) + R"(  [[set.source]]
  name = "m"
  type = "mysql"
  [[set.source]]
  name = "n"
  type = "postgress"
  dsn = "postgresql://h/db"
  [[set.source]]
  name = "o"
)");
    EXPECT_TRUE(has(p, 13,
                    {"type 'mysql' is not valid: use one of \"postgres\", \"sqlite\", \"files\", "
                     "\"s3\", \"command\""}))
        << join(p);
    EXPECT_TRUE(has(p, 16, {"type 'postgress'", "did you mean 'postgres'"})) << join(p);
    EXPECT_TRUE(has(p, 18, {"source 'o': type is required (one of \"postgres\""})) << join(p);
    // With the type unknown, type-specific keys are not flagged.
    EXPECT_FALSE(has(p, 17, {"dsn"})) << join(p);
}

TEST(ConfigErrors, SetWithoutSources) {
    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "empty"
[[set]]
name = "also"
source = []
[[set]]
name = "odd"
source = "db"
)");
    EXPECT_TRUE(has(p, 3, {"set 'empty' has no sources", "[[set.source]]"})) << join(p);
    EXPECT_TRUE(has(p, 7, {"set 'also' has no sources"})) << join(p);
    EXPECT_TRUE(has(p, 10, {"source must be an array of tables ([[set.source]]), not a string"}))
        << join(p);
}

TEST(ConfigErrors, RepositoryUrl) {
    auto p = problems_of("[repository]\nhost_key = \"/k\"\n");
    EXPECT_TRUE(has(p, 1, {"[repository]: url is required", "/var/backups/coffer"})) << join(p);
    auto q = problems_of("# nothing\n");
    EXPECT_TRUE(has(q, 0, {"[repository] url is required"})) << join(q);
    auto r = problems_of("[repository]\nurl = \"\"\n");
    EXPECT_TRUE(has(r, 2, {"url must not be empty"})) << join(r);
    auto s = problems_of("repository = \"/r\"\n");
    EXPECT_TRUE(has(s, 1, {"repository must be a table ([repository]), not a string"})) << join(s);
    auto t =
        problems_of("[repository]\nurl = \"s3://bucket\"\nmirrors = [\"/m\", \"s3:https://h\"]\n");
    EXPECT_TRUE(has(t, 2, {"url 's3://bucket' must start with \"s3:http://\" or \"s3:https://\""}))
        << join(t);
    EXPECT_TRUE(has(t, 3, {"mirrors: element 2 's3:https://h' names no bucket"})) << join(t);
}

TEST(ConfigErrors, InvalidNames) {
    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "my set"
  [[set.source]]
  name = "a/b"
  type = "sqlite"
  path = "/x"
  [[set.source]]
  type = "sqlite"
  path = "/y"
[[set]]
name = ".."
source = [{ name = "ok", type = "sqlite", path = "/x" }]
)");
    EXPECT_TRUE(has(p, 4, {"set #1: name 'my set' is not valid", "letters, digits"})) << join(p);
    EXPECT_TRUE(has(p, 6, {"set #1: source #1: name 'a/b' is not valid"})) << join(p);
    EXPECT_TRUE(has(p, 9, {"set #1: source #2: name is required"})) << join(p);
    EXPECT_TRUE(has(p, 13, {"set #2: name '..' is not valid"})) << join(p);
}

TEST(ConfigErrors, ShrinkSettings) {
    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "a"
max_shrink = 1.5
on_shrink = "stop"
min_size = -1
source = [{ name = "x", type = "sqlite", path = "/x" }]
[[set]]
name = "b"
max_shrink = "half"
source = [{ name = "x", type = "sqlite", path = "/x" }]
)");
    EXPECT_TRUE(has(p, 5, {"set 'a': max_shrink: 1.5 is outside 0..1"})) << join(p);
    EXPECT_TRUE(has(p, 6, {"on_shrink: 'stop' is not valid: use \"fail\" or \"warn\""})) << join(p);
    EXPECT_TRUE(has(p, 7, {"min_size must not be negative"})) << join(p);
    EXPECT_TRUE(has(p, 11, {"max_shrink must be a number between 0 and 1", "not a string"}))
        << join(p);
}

TEST(ConfigErrors, SourceRequirements) {
    auto p = problems_of(std::string(k_head) + R"(  [[set.source]]
  name = "s"
  type = "s3"
  url = "http://127.0.0.1:9000/b"
  [[set.source]]
  name = "s2"
  type = "s3"
  [[set.source]]
  name = "lite"
  type = "sqlite"
  [[set.source]]
  name = "f"
  type = "files"
  paths = []
  [[set.source]]
  name = "f2"
  type = "files"
  [[set.source]]
  name = "cmd"
  type = "command"
  restore_command = "x"
  [[set.source]]
  name = "pg"
  type = "postgres"
  dsn = "postgresql://h/db"
  pg_dump = ""
)");
    EXPECT_TRUE(has(p, 14,
                    {"source 's': url 'http://127.0.0.1:9000/b' must start with \"s3:http://\" "
                     "or \"s3:https://\""}))
        << join(p);
    EXPECT_TRUE(has(p, 15, {"source 's2': url is required for an s3 source"})) << join(p);
    EXPECT_TRUE(has(p, 18, {"source 'lite': path is required for a sqlite source"})) << join(p);
    EXPECT_TRUE(has(p, 24, {"source 'f': paths must list at least one"})) << join(p);
    EXPECT_TRUE(has(p, 25, {"source 'f2': paths is required for a files source"})) << join(p);
    EXPECT_TRUE(has(p, 28, {"source 'cmd': backup_command is required"})) << join(p);
    EXPECT_TRUE(has(p, 36, {"source 'pg': pg_dump must not be empty"})) << join(p);
}

TEST(ConfigErrors, ManyProblemsAllReportedInLineOrder) {
    auto p = problems_of(R"([repository]
url = "s3:ftp://x/y"
[[set]]
name = "platform"
rpo = "soon"
  [[set.source]]
  name = "db"
  type = "postgres"
  dns = "x"
  [[set.source]]
  name = "bad name"
  type = "nosql"
[[set]]
name = "platform"
max_shrink = 2.0
)");
    EXPECT_TRUE(has(p, 2, {"must start with"})) << join(p);
    EXPECT_TRUE(has(p, 5, {"rpo: 'soon' is not a duration"})) << join(p);
    EXPECT_TRUE(has(p, 6, {"dsn is required"})) << join(p);
    EXPECT_TRUE(has(p, 9, {"unknown key 'dns'", "did you mean 'dsn'"})) << join(p);
    EXPECT_TRUE(has(p, 11, {"name 'bad name' is not valid"})) << join(p);
    EXPECT_TRUE(has(p, 12, {"type 'nosql' is not valid"})) << join(p);
    EXPECT_TRUE(has(p, 13, {"set 'platform' has no sources"})) << join(p);
    EXPECT_TRUE(has(p, 14, {"duplicate set name 'platform'", "line 4"})) << join(p);
    EXPECT_TRUE(has(p, 15, {"max_shrink: 2 is outside 0..1"})) << join(p);
    EXPECT_EQ(p.size(), 9u) << join(p);
    for (size_t i = 1; i < p.size(); ++i) EXPECT_LE(p[i - 1].line, p[i].line) << join(p);
}

TEST(ConfigErrors, SyntaxErrorHasLine) {
    auto p = problems_of("[repository]\nurl = \"/r\"\n\n[[set]\nname = \"x\"\n");
    ASSERT_EQ(p.size(), 1u) << join(p);
    EXPECT_EQ(p[0].line, 4);
    EXPECT_NE(p[0].message.find("not valid TOML"), std::string::npos) << p[0].message;
    auto q = problems_of("[repository]\nurl = \"/r\"\nurl = \"/s\"\n");
    ASSERT_EQ(q.size(), 1u) << join(q);
    EXPECT_EQ(q[0].line, 3);
}

TEST(ConfigErrors, NotAnArrayOfSets) {
    auto p = problems_of("[repository]\nurl = \"/r\"\n[set]\nname = \"x\"\n");
    EXPECT_TRUE(has(p, 3, {"set must be an array of tables ([[set]]), not a table"})) << join(p);
    auto q = problems_of("set = [1]\n[repository]\nurl = \"/r\"\n");
    EXPECT_TRUE(has(q, 1, {"set #1 must be a table ([[set]]), not an integer"})) << join(q);
}

TEST(ConfigErrors, ProblemWithoutParseOutputStillFails) {
    auto r = parse("[repository]\n", "x.toml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(),
              "x.toml:1: [repository]: url is required (a directory such as "
              "\"/var/backups/coffer\", or \"s3:https://host[:port]/bucket/prefix\")");
}

TEST(Problem, ToString) {
    EXPECT_EQ((Problem{12, "bad"}).to_string("c.toml"), "c.toml:12: bad");
    EXPECT_EQ((Problem{0, "bad"}).to_string("c.toml"), "c.toml: bad");
}

TEST(Duration, Good) {
    struct Case {
        const char* text;
        int64_t seconds;
    };
    const Case cases[] = {
        {"0s", 0},
        {"30s", 30},
        {"15m", 900},
        {"1h", 3600},
        {"7d", 7 * 86400},
        {"2w", 14 * 86400},
        {"1h30m", 5400},
        {"1w2d3h4m5s", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5},
        {"90m", 5400},
        {"007s", 7},
        {"9223372036854775807s", INT64_MAX},
    };
    for (const auto& c : cases) {
        auto r = parse_duration(c.text);
        ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().to_string();
        EXPECT_EQ(*r, c.seconds) << c.text;
    }
}

TEST(Duration, Bad) {
    const char* cases[] = {
        "",
        "1",
        "h",
        "-1h",
        "+1h",
        "1 h",
        " 1h",
        "1h ",
        "1.5h",
        "1H",
        "1y",
        "1ms",
        "1hh",
        "30m1h",
        "1h1h",
        "1h30",
        "one",
        "1d-2h",
        "10000000000000000000s",
        "9223372036854775807s1s",
        "153722867280912931m",
        "99999999999999999999999w",
    };
    for (const char* text : cases) {
        auto r = parse_duration(text);
        EXPECT_FALSE(r.ok()) << "'" << text << "' parsed as " << (r.ok() ? *r : 0);
        if (!r.ok()) {
            EXPECT_EQ(r.status().code(), Code::invalid_argument) << text;
        }
    }
    auto r = parse_duration("1 hour");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(),
              "'1 hour' is not a duration (use e.g. \"30s\", \"15m\", \"1h\", \"7d\", \"1h30m\")");
    auto big = parse_duration("99999999999999999999999w");
    ASSERT_FALSE(big.ok());
    EXPECT_NE(big.status().message().find("too long"), std::string::npos);
}

TEST(Load, ReadsFileAndReportsMissing) {
    char dir_template[] = "/tmp/coffer_config_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    std::string dir = dir_template;
    std::string path = dir + "/coffer.toml";
    {
        std::ofstream out(path);
        out << k_example;
    }
    std::vector<Problem> problems;
    auto c = load(path, &problems);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    EXPECT_EQ(c->path, path);
    EXPECT_EQ(c->sets.size(), 1u);
    EXPECT_TRUE(problems.empty());

    {
        std::ofstream out(path);
        out << "[repository]\nurl = 1\n";
    }
    auto bad = load(path, &problems);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().message().rfind(path + ":2: ", 0), 0u) << bad.status().message();
    ASSERT_EQ(problems.size(), 1u);

    std::remove(path.c_str());
    auto missing = load(path);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.status().code(), Code::not_found);
    EXPECT_EQ(missing.status().message(), "config file " + path + " does not exist");
    rmdir(dir.c_str());
}

TEST(Config, S3RepositorySettings) {
    Config c = parse_ok(R"([repository]
url = "s3:https://s3.example.com/backups/coffer"
access_key_id = "AKID"
secret_access_key = "SECRET"
region = "eu-central-1"
ca_file = "/etc/coffer/ca.pem"
connections = 16
object_lock_mode = "compliance"
object_lock_days = 30
)");
    EXPECT_EQ(c.repository.object_lock_mode, "COMPLIANCE");
    EXPECT_EQ(c.repository.object_lock_days, 30u);
    EXPECT_EQ(c.repository.access_key_id, "AKID");
    EXPECT_EQ(c.repository.secret_access_key, "SECRET");
    EXPECT_EQ(c.repository.region, "eu-central-1");
    EXPECT_EQ(c.repository.ca_file, "/etc/coffer/ca.pem");
    EXPECT_EQ(c.repository.connections, 16u);
    Config d = parse_ok("[repository]\nurl = \"s3:http://127.0.0.1:9000/b\"\n");
    EXPECT_EQ(d.repository.region, "") << "unset: the environment decides";
    EXPECT_EQ(d.repository.connections, 0u);
}

TEST(ConfigErrors, S3RepositorySettings) {
    auto p = problems_of(R"([repository]
url = "s3:http://127.0.0.1:9000/b"
access_key_id = "AKID"
region = "eu:west"
ca_file = ""
connections = 0
)");
    EXPECT_TRUE(has(p, 3, {"access_key_id is set but secret_access_key is not"})) << join(p);
    EXPECT_TRUE(has(p, 4, {"region 'eu:west' is not a region name"})) << join(p);
    EXPECT_TRUE(has(p, 5, {"ca_file must not be empty"})) << join(p);
    EXPECT_TRUE(has(p, 6, {"connections: 0 is outside 1..256"})) << join(p);
    auto q = problems_of("[repository]\nurl = \"/r\"\nconnections = \"8\"\nregion = \"x\"\n");
    EXPECT_TRUE(has(q, 3, {"connections must be an integer, not a string"})) << join(q);
    EXPECT_TRUE(has(q, 2, {"S3 settings", "neither url nor mirrors is an s3: URL"})) << join(q);
    auto l = problems_of(
        "[repository]\nurl = \"s3:http://h/b\"\nobject_lock_mode = \"forever\"\n"
        "object_lock_days = 0\n");
    EXPECT_TRUE(has(l, 3, {"object_lock_mode 'forever' is not valid"})) << join(l);
    EXPECT_TRUE(has(l, 4, {"object_lock_days: 0 is outside 1..36500"})) << join(l);
    auto m = problems_of("[repository]\nurl = \"s3:http://h/b\"\nobject_lock_days = 7\n");
    EXPECT_TRUE(has(m, 3, {"object_lock_days is set but object_lock_mode is not"})) << join(m);
}

TEST(Config, RetentionInlineTable) {
    Config c = parse_ok(R"([repository]
url = "/r"
[[set]]
name = "app"
retention = { keep_last = 7, keep_within = "30d", keep_hourly = 24, keep_daily = 0, keep_weekly = 4, keep_monthly = 12, keep_yearly = 1000000 }
  [[set.source]]
  name = "x"
  type = "sqlite"
  path = "/x"
[[set]]
name = "plain"
  [[set.source]]
  name = "x"
  type = "sqlite"
  path = "/x"
)");
    ASSERT_EQ(c.sets.size(), 2u);
    ASSERT_TRUE(c.sets[0].retention.has_value());
    const retention::Policy& p = *c.sets[0].retention;
    EXPECT_EQ(p.keep_last, 7u);
    EXPECT_EQ(p.keep_within_s, 30 * 86400);
    EXPECT_EQ(p.keep_hourly, 24u);
    EXPECT_EQ(p.keep_daily, 0u) << "0 is a rule that keeps nothing, not an unset rule";
    EXPECT_EQ(p.keep_weekly, 4u);
    EXPECT_EQ(p.keep_monthly, 12u);
    EXPECT_EQ(p.keep_yearly, 1000000u);
    EXPECT_FALSE(c.sets[1].retention.has_value()) << "no retention table: no policy";
}

TEST(Config, RetentionSubTable) {
    // [set.retention] after the set's sources still belongs to that set.
    Config c = parse_ok(std::string(k_head) + "[set.retention]\nkeep_daily = 7\n");
    ASSERT_EQ(c.sets.size(), 1u);
    ASSERT_TRUE(c.sets[0].retention.has_value());
    const retention::Policy& p = *c.sets[0].retention;
    EXPECT_EQ(p.keep_daily, 7u);
    EXPECT_FALSE(p.keep_last.has_value());
    EXPECT_FALSE(p.keep_within_s.has_value());
    EXPECT_FALSE(p.keep_hourly.has_value());
    EXPECT_FALSE(p.keep_weekly.has_value());
    EXPECT_FALSE(p.keep_monthly.has_value());
    EXPECT_FALSE(p.keep_yearly.has_value());
    EXPECT_EQ(p.describe(), "keep-daily 7");
}

TEST(ConfigErrors, RetentionUnknownKeySuggestsClosest) {
    auto p = problems_of(std::string(k_head) +
                         "[set.retention]\nkeep_dialy = 7\nkeep_weekly = 4\nretain = 3\n");
    EXPECT_TRUE(
        has(p, 12, {"set 'app': retention: unknown key 'keep_dialy' (did you mean 'keep_daily'?)"}))
        << join(p);
    EXPECT_TRUE(has(p, 14,
                    {"set 'app': retention: unknown key 'retain'", "expected one of:", "keep_last",
                     "keep_within", "keep_yearly"}))
        << join(p);
    auto q = problems_of(R"([repository]
url = "/r"
[[set]]
name = "app"
retension = { keep_last = 1 }
source = [{ name = "x", type = "sqlite", path = "/x" }]
)");
    EXPECT_TRUE(
        has(q, 5, {"set 'app': unknown key 'retension' in [[set]]", "did you mean 'retention'?"}))
        << join(q);
}

TEST(ConfigErrors, RetentionNumbers) {
    auto p = problems_of(std::string(k_head) +
                         "[set.retention]\nkeep_last = -1\nkeep_daily = 1000001\n"
                         "keep_weekly = \"4\"\nkeep_monthly = 1.5\nkeep_yearly = 1000000\n");
    EXPECT_TRUE(has(p, 12, {"set 'app': retention: keep_last: -1 is outside 0..1000000"}))
        << join(p);
    EXPECT_TRUE(has(p, 13, {"retention: keep_daily: 1000001 is outside 0..1000000"})) << join(p);
    EXPECT_TRUE(has(p, 14, {"retention: keep_weekly must be an integer", "not a string"}))
        << join(p);
    EXPECT_TRUE(has(p, 15, {"retention: keep_monthly must be an integer", "not a float"}))
        << join(p);
    EXPECT_EQ(p.size(), 4u) << "keep_yearly = 1000000 is in range" << join(p);
}

TEST(ConfigErrors, RetentionBadDuration) {
    auto p = problems_of(std::string(k_head) +
                         "[set.retention]\nkeep_within = \"1 month\"\nkeep_last = 3\n");
    EXPECT_TRUE(has(p, 12,
                    {"set 'app': retention: keep_within: '1 month' is not a duration (use e.g. "
                     "\"30s\", \"15m\", \"1h\", \"7d\", \"1h30m\")"}))
        << join(p);
    auto q = problems_of(std::string(k_head) + "[set.retention]\nkeep_within = 30\n");
    EXPECT_TRUE(has(q, 12, {"retention: keep_within must be a duration string", "not an integer"}))
        << join(q);
    auto z = problems_of(std::string(k_head) + "[set.retention]\nkeep_within = \"0s\"\n");
    EXPECT_TRUE(has(z, 12, {"retention: keep_within must be longer than zero"})) << join(z);
}

TEST(ConfigErrors, RetentionEmptyOrNotATable) {
    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "app"
retention = {}
source = [{ name = "x", type = "sqlite", path = "/x" }]
)");
    EXPECT_TRUE(has(p, 5, {"retention for set 'app' keeps nothing: set at least one keep_* rule"}))
        << join(p);
    auto q = problems_of(std::string(k_head) + "[set.retention]\n");
    EXPECT_TRUE(has(q, 11, {"retention for set 'app' keeps nothing"})) << join(q);
    auto r = problems_of(R"([repository]
url = "/r"
[[set]]
name = "app"
retention = "30d"
source = [{ name = "x", type = "sqlite", path = "/x" }]
)");
    EXPECT_TRUE(has(r, 5, {"set 'app': retention must be a table", "not a string"})) << join(r);
}

TEST(Config, ScheduleAndTimezone) {
    Config c = parse_ok(R"([repository]
url = "/r"
[[set]]
name = "nightly"
schedule = "30 2 * * mon-fri"
timezone = "Europe/Berlin"
source = [{ name = "x", type = "sqlite", path = "/x" }]
[[set]]
name = "often"
schedule = "@every 15m"
source = [{ name = "x", type = "sqlite", path = "/x" }]
)");
    ASSERT_EQ(c.sets.size(), 2u);
    EXPECT_EQ(c.sets[0].schedule, "30 2 * * mon-fri");
    EXPECT_EQ(c.sets[0].timezone, "Europe/Berlin");
    EXPECT_EQ(c.sets[1].schedule, "@every 15m");
    EXPECT_EQ(c.sets[1].timezone, "UTC");
}

TEST(Config, DrillSchedule) {
    Config c = parse_ok(R"([repository]
url = "/r"
[[set]]
name = "nightly"
schedule = "30 2 * * *"
drill_schedule = "0 4 * * sun"
source = [{ name = "x", type = "sqlite", path = "/x" }]
)");
    EXPECT_EQ(c.sets[0].drill_schedule, "0 4 * * sun");
    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "a"
drill_schedule = "@weekly"
source = [{ name = "x", type = "sqlite", path = "/x" }]
[[set]]
name = "b"
schedule = "@daily"
drill_schedule = "0 25 * * *"
source = [{ name = "x", type = "sqlite", path = "/x" }]
)");
    EXPECT_TRUE(has(p, 5, {"set 'a': drill_schedule needs a schedule too"})) << join(p);
    EXPECT_TRUE(has(p, 10, {"set 'b': drill_schedule: ", "hour 25"})) << join(p);
    EXPECT_EQ(p.size(), 2u) << join(p);
}

// The drill's scratch targets (drill_dsn, drill_url) and its decrypt and https checks.
TEST(Config, DrillTargetsAndChecks) {
    Config c = parse_ok(R"([repository]
url = "/r"
[[set]]
name = "a"
[[set.source]]
name = "db"
type = "postgres"
dsn = "postgresql://app@10.0.0.5/app"
drill_dsn = "postgresql://drill@127.0.0.1/postgres"
[[set.source]]
name = "rec"
type = "s3"
url = "s3:http://127.0.0.1:9000/rec"
drill_url = "s3:http://127.0.0.1:9000/drills"
[[set.source]]
name = "conf"
type = "files"
paths = ["/etc/app/"]
[[set.drill_check]]
name = "key"
source = "conf"
decrypt = "/etc/coffer/canary.bin"
key_file = "/etc/app/master.key"
expect = "hello"
[[set.drill_check]]
name = "tls"
http = "https://127.0.0.1:8443/healthz"
ca_file = "/etc/coffer/ca.pem"
)");
    const auto& set = c.sets[0];
    EXPECT_EQ(set.sources[0].drill_dsn_or_dsn(), "postgresql://drill@127.0.0.1/postgres");
    EXPECT_EQ(set.sources[1].drill_url, "s3:http://127.0.0.1:9000/drills");
    ASSERT_EQ(set.drill_checks.size(), 2u);
    EXPECT_EQ(set.drill_checks[0].key_file, "/etc/app/master.key");
    EXPECT_EQ(set.drill_checks[1].ca_file, "/etc/coffer/ca.pem");

    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "a"
[[set.source]]
name = "rec"
type = "s3"
url = "s3:http://127.0.0.1:9000/rec/live"
drill_url = "s3:http://127.0.0.1:9000/rec/live/drills"
[[set.source]]
name = "conf"
type = "files"
paths = ["/etc/app"]
drill_url = "s3:http://127.0.0.1:9000/x"
[[set.drill_check]]
name = "key"
source = "conf"
decrypt = "canary.bin"
key_file = "/etc/other/master.key"
[[set.drill_check]]
name = "tls"
http = "http://127.0.0.1/healthz"
ca_file = "/ca.pem"
)");
    EXPECT_TRUE(has(p, 5, {"source 'rec': drill_url overlaps source 'rec' of set 'a'"})) << join(p);
    EXPECT_TRUE(has(p, 14, {"drill_url"})) << join(p);
    EXPECT_TRUE(has(p, 15, {"decrypt must be an absolute path"})) << join(p);
    EXPECT_TRUE(has(p, 15, {"expect is required with decrypt"})) << join(p);
    EXPECT_TRUE(has(p, 15, {"'/etc/other/master.key' is not under any of source 'conf' paths"}))
        << join(p);
    EXPECT_TRUE(has(p, 20, {"ca_file is only for an https:// check"})) << join(p);
    EXPECT_EQ(p.size(), 6u) << join(p);

    // Nor into the repository or a mirror; key_file must be a plain path inside the source,
    // and only with decrypt.
    p = problems_of(R"([repository]
url = "s3:http://127.0.0.1:9000/backups/coffer"
mirrors = ["s3:http://127.0.0.1:9001/dr"]
[[set]]
name = "a"
[[set.source]]
name = "r1"
type = "s3"
url = "s3:http://127.0.0.1:9000/rec"
drill_url = "s3:http://127.0.0.1:9000/backups"
[[set.source]]
name = "r2"
type = "s3"
url = "s3:http://127.0.0.1:9000/rec2"
drill_url = "s3:http://127.0.0.1:9001/dr/drills/"
[[set.source]]
name = "all"
type = "files"
paths = ["/"]
[[set.drill_check]]
name = "dots"
source = "all"
decrypt = "/c"
key_file = "/etc/app/../../root/key"
expect = "x"
[[set.drill_check]]
name = "fine"
source = "all"
decrypt = "/c"
key_file = "/etc/app/key"
expect = "x"
[[set.drill_check]]
name = "stray"
http = "http://127.0.0.1/"
key_file = "/etc/app/key"
)");
    EXPECT_TRUE(has(p, 6, {"source 'r1': drill_url overlaps the repository"})) << join(p);
    EXPECT_TRUE(has(p, 11, {"source 'r2': drill_url overlaps a mirror"})) << join(p);
    EXPECT_TRUE(has(p, 20, {"'/etc/app/../../root/key' must be an absolute path without"}))
        << join(p);
    EXPECT_TRUE(has(p, 32, {"key_file is only for a decrypt check"})) << join(p);
    EXPECT_EQ(p.size(), 4u) << join(p);
}

TEST(ConfigErrors, BadSchedule) {
    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "a"
schedule = "61 * * * *"
source = [{ name = "x", type = "sqlite", path = "/x" }]
[[set]]
name = "b"
schedule = "0 0 31 2 *"
timezone = "Mars/Base"
source = [{ name = "x", type = "sqlite", path = "/x" }]
[[set]]
name = "c"
schedule = 5
timezone = 1
source = [{ name = "x", type = "sqlite", path = "/x" }]
[[set]]
name = "d"
schedule = ""
source = [{ name = "x", type = "sqlite", path = "/x" }]
)");
    EXPECT_TRUE(has(p, 5, {"set 'a': schedule '61 * * * *': minute 61 is outside 0-59"}))
        << join(p);
    EXPECT_TRUE(has(p, 9, {"set 'b': schedule '0 0 31 2 *': never fires"})) << join(p);
    // The zone is checked apart from the expression, on its own line.
    EXPECT_TRUE(has(p, 10,
                    {"set 'b': timezone: unknown time zone 'Mars/Base': use an IANA name such as "
                     "Europe/Berlin or UTC"}))
        << join(p);
    EXPECT_TRUE(has(p, 14, {"set 'c': schedule must be a string, not an integer"})) << join(p);
    EXPECT_TRUE(has(p, 15, {"set 'c': timezone must be a string, not an integer"})) << join(p);
    EXPECT_TRUE(has(p, 19, {"set 'd': schedule must not be empty"})) << join(p);
    EXPECT_EQ(p.size(), 6u) << join(p);
    EXPECT_EQ(p.front().to_string("c.toml"),
              "c.toml:5: set 'a': schedule '61 * * * *': minute 61 is outside 0-59");
}

TEST(ConfigErrors, TimezoneWithoutSchedule) {
    auto p = problems_of(R"([repository]
url = "/r"
[[set]]
name = "a"
timezone = "Europe/Berlin"
source = [{ name = "x", type = "sqlite", path = "/x" }]
)");
    EXPECT_TRUE(has(p, 5, {"set 'a': timezone is set but schedule is not"})) << join(p);
}

TEST(Config, ServerEveryKey) {
    Config c = parse_ok(R"([repository]
url = "/r"
[server]
state_dir = "/var/lib/coffer-test"
listen = "[::1]:0"
webhook_url = "https://alerts.example.com/hook?team=ops"
on_failure = "logger -t coffer failed"
catch_up = false
prune = false
prune_grace = "0s"
prune_max_unused = 0.5
)");
    EXPECT_EQ(c.server.state_dir, "/var/lib/coffer-test");
    EXPECT_EQ(c.server.listen, "[::1]:0");
    EXPECT_EQ(c.server.webhook_url, "https://alerts.example.com/hook?team=ops");
    EXPECT_EQ(c.server.on_failure, "logger -t coffer failed");
    EXPECT_FALSE(c.server.catch_up);
    EXPECT_FALSE(c.server.prune);
    EXPECT_EQ(c.server.prune_grace_s, 0);
    EXPECT_DOUBLE_EQ(c.server.prune_max_unused, 0.5);
    for (const char* listen : {"0.0.0.0:9180", "localhost:65535", "10.1.2.3:0", "[::]:80"})
        EXPECT_EQ(parse_ok("[repository]\nurl = \"/r\"\n[server]\nlisten = \"" +
                           std::string(listen) + "\"\n")
                      .server.listen,
                  listen);
    EXPECT_EQ(parse_ok("[repository]\nurl = \"/r\"\n[server]\nprune_grace = \"2h\"\n"
                       "prune_max_unused = 1\n")
                  .server.prune_grace_s,
              7200);
}

TEST(ConfigErrors, ServerListen) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"127.0.0.1", "'127.0.0.1' has no port"},
        {"127.0.0.1:", "has no port number 0..65535"},
        {"127.0.0.1:65536", "has no port number 0..65535"},
        {"127.0.0.1:http", "has no port number 0..65535"},
        {":9180", "names no host"},
        {"example.com:9180", "names host 'example.com', which is not a literal IP address"},
        {"256.1.1.1:9180", "names host '256.1.1.1'"},
        {"::1:9180", "needs brackets around its IPv6 address"},
        {"[::g]:9180", "has no IPv6 address between its brackets"},
    };
    for (const auto& [listen, fragment] : cases) {
        auto p = problems_of("[repository]\nurl = \"/r\"\n[server]\nlisten = \"" + listen + "\"\n");
        EXPECT_TRUE(
            has(p, 4, {"[server]: listen '" + listen + "'", fragment, "e.g. \"127.0.0.1:9180\""}))
            << listen << join(p);
    }
    auto q = problems_of("[repository]\nurl = \"/r\"\n[server]\nlisten = 9180\n");
    EXPECT_TRUE(has(q, 4, {"[server]: listen must be a string, not an integer"})) << join(q);
}

TEST(ConfigErrors, ServerValues) {
    auto p = problems_of(R"([repository]
url = "/r"
[server]
state_dir = "state"
webhook_url = "ftp://x/y"
on_failure = ""
catch_up = "yes"
prune = 1
prune_grace = "1 hour"
prune_max_unused = 1.5
)");
    EXPECT_TRUE(has(p, 4, {"[server]: state_dir 'state' must be an absolute path"})) << join(p);
    EXPECT_TRUE(has(p, 5,
                    {"[server]: webhook_url 'ftp://x/y' must start with \"http://\" or "
                     "\"https://\""}))
        << join(p);
    EXPECT_TRUE(has(p, 6, {"[server]: on_failure must not be empty"})) << join(p);
    EXPECT_TRUE(has(p, 7, {"[server]: catch_up must be true or false, not a string"})) << join(p);
    EXPECT_TRUE(has(p, 8, {"[server]: prune must be true or false, not an integer"})) << join(p);
    EXPECT_TRUE(has(p, 9, {"[server]: prune_grace: '1 hour' is not a duration"})) << join(p);
    EXPECT_TRUE(has(p, 10,
                    {"[server]: prune_max_unused: 1.5 is outside 0..1 (the share of a pack's "
                     "bytes that may be unused before prune repacks it; 0.2 is the default)"}))
        << join(p);
    EXPECT_EQ(p.size(), 7u) << join(p);

    auto q = problems_of(
        "[repository]\nurl = \"/r\"\n[server]\nprune_max_unused = -0.1\n"
        "webhook_url = \"https:///path\"\n");
    EXPECT_TRUE(has(q, 4, {"[server]: prune_max_unused: -0.1 is outside 0..1"})) << join(q);
    EXPECT_TRUE(has(q, 5, {"webhook_url 'https:///path' names no host"})) << join(q);
    auto r = problems_of("[repository]\nurl = \"/r\"\n[server]\nprune_max_unused = \"20%\"\n");
    EXPECT_TRUE(has(r, 4,
                    {"[server]: prune_max_unused must be a number between 0 and 1 (e.g. "
                     "0.2), not a string"}))
        << join(r);
    auto z = problems_of("server = \"127.0.0.1:9180\"\n[repository]\nurl = \"/r\"\n");
    EXPECT_TRUE(has(z, 1, {"server must be a table ([server]), not a string"})) << join(z);
}

TEST(ConfigErrors, TlsFilesGoTogetherAsAbsolutePathsAndMetricsListenIsAnAddress) {
    auto p = problems_of(R"([repository]
url = "/r"
[server]
tls_cert = "cert.pem"
metrics_listen = "nowhere"
)");
    EXPECT_TRUE(has(p, 4, {"tls_cert 'cert.pem' must be an absolute path"})) << join(p);
    EXPECT_TRUE(has(p, 4, {"tls_cert needs tls_key too"})) << join(p);
    EXPECT_TRUE(has(p, 5, {"metrics_listen 'nowhere'"})) << join(p);
}

TEST(ConfigErrors, ServerAndScheduleUnknownKeysSuggestClosest) {
    auto p = problems_of(R"([repository]
url = "/r"
[server]
listn = "127.0.0.1:9180"
prune_grace_s = 60
wibble = 1
[[set]]
name = "a"
schedul = "@daily"
time_zone = "UTC"
source = [{ name = "x", type = "sqlite", path = "/x" }]
[sever]
)");
    EXPECT_TRUE(has(p, 4, {"[server]: unknown key 'listn' (did you mean 'listen'?)"})) << join(p);
    EXPECT_TRUE(has(p, 5, {"unknown key 'prune_grace_s' (did you mean 'prune_grace'?)"}))
        << join(p);
    EXPECT_TRUE(has(p, 6,
                    {"[server]: unknown key 'wibble' (expected one of: state_dir, listen",
                     "prune_max_unused, tls_cert, tls_key, metrics_listen)"}))
        << join(p);
    EXPECT_TRUE(has(p, 9, {"set 'a': unknown key 'schedul' in [[set]] (did you mean 'schedule'?)"}))
        << join(p);
    EXPECT_TRUE(has(p, 10, {"unknown key 'time_zone' in [[set]] (did you mean 'timezone'?)"}))
        << join(p);
    EXPECT_TRUE(has(p, 12, {"unknown key 'sever' at the top level (did you mean 'server'?)"}))
        << join(p);
}

}  // namespace
}  // namespace coffer::config

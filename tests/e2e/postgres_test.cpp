// End-to-end: the postgres source against a real server (started by scripts/postgres.sh, found
// through COFFER_TEST_PG_*). A pgbench database is backed up while pgbench writes, restored into
// another database and destructively, and each time the row counts match the recorded ones and
// a fresh dump equals the dump taken at backup time. Failures save nothing and destroy nothing.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <thread>

#include "e2e/cli_helpers.h"

namespace coffer::e2e {
namespace {

namespace fs = std::filesystem;

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

// A dump without pg_dump's per-run \restrict key lines, which differ between any two dumps.
std::string comparable_dump(const std::string& dump) {
    std::string out;
    size_t pos = 0;
    while (pos < dump.size()) {
        size_t end = dump.find('\n', pos);
        if (end == std::string::npos) end = dump.size();
        std::string line = dump.substr(pos, end - pos);
        if (line.rfind("\\restrict ", 0) != 0 && line.rfind("\\unrestrict ", 0) != 0)
            out += line + "\n";
        pos = end + 1;
    }
    return out;
}

std::map<std::string, std::string> checks_of(const nlohmann::json& j) {
    std::map<std::string, std::string> out;
    for (const auto& c : j.value("checks", nlohmann::json::array()))
        out[c["check"].get<std::string>()] =
            (c["ok"].get<bool>() ? "ok: " : "FAIL: ") + c["detail"].get<std::string>();
    return out;
}

class PostgresTest : public ::testing::Test {
protected:
    void SetUp() override {
        host = env_or_empty("COFFER_TEST_PG_HOST");
        port = env_or_empty("COFFER_TEST_PG_PORT");
        password = env_or_empty("COFFER_TEST_PG_PASSWORD");
        if (port.empty()) {
            // In CI the server must be there: a silently skipped suite would prove nothing.
            if (env_or_empty("CI") == "true")
                FAIL() << "COFFER_TEST_PG_PORT is not set: scripts/test.sh starts PostgreSQL";
            GTEST_SKIP() << "no PostgreSQL server: run through scripts/test.sh";
        }
        db = "coffer_t_" + random_hex(4);
        ASSERT_NO_FATAL_FAILURE(repo.init());
        make_dir(tmp);
        psql("postgres", "CREATE DATABASE " + db);
        RunResult init = pg_tool("pgbench", {"-i", "-s", "1", "-q", db});
        ASSERT_EQ(init.exit_code, 0) << init.describe();
        // Roles are cluster-wide and the tests share one cluster: only the roles test dumps and
        // restores them, so that no other test recreates a role a concurrent test dropped.
        write_config(dsn(db), "roles = false\n");
    }

    void TearDown() override {
        if (port.empty()) return;
        for (const auto& name : {db, db + "_drill", db + "_coffer_restore"})
            pg_tool("psql", {"-X", "-q", "-d", "postgres", "-c",
                             "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"});
    }

    std::string dsn(const std::string& dbname, const std::string& pw = "") const {
        return "postgresql://postgres:" + (pw.empty() ? password : pw) + "@" + host + ":" + port +
               "/" + dbname;
    }
    void write_config(const std::string& the_dsn, const std::string& extra = "") const {
        write_file(cfg, "[repository]\nurl = " + toml(repo.repo) +
                            "\nhost_key = " + toml(repo.host_key) +
                            "\nrecovery_key_file = " + toml(repo.recovery_key) +
                            "\n\n[[set]]\nname = \"platform\"\n"
                            "[[set.source]]\nname = \"db\"\ntype = \"postgres\"\ndsn = " +
                            toml(the_dsn) + "\n" + extra);
    }

    RunResult pg_tool(const std::string& tool, const std::vector<std::string>& args,
                      int timeout_s = 120) const {
        RunOptions o;
        o.env = {
            {"PGHOST", host}, {"PGPORT", port}, {"PGUSER", "postgres"}, {"PGPASSWORD", password}};
        o.timeout_s = timeout_s;
        std::string exe = env_or_empty("COFFER_TEST_PG_BIN") + "/" + tool;
        return run_process(access(exe.c_str(), X_OK) == 0 ? exe : "/usr/bin/" + tool, args, o);
    }
    // One value (or nothing) from a statement; a failure throws.
    std::string psql(const std::string& dbname, const std::string& sql) const {
        RunResult r =
            pg_tool("psql", {"-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", dbname, "-c", sql});
        if (r.exit_code != 0) throw std::runtime_error("psql: " + sql + ": " + r.describe());
        while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
        return r.out;
    }
    int64_t rows(const std::string& dbname, const std::string& table) const {
        return std::stoll(psql(dbname, "SELECT count(*) FROM " + table));
    }
    bool database_exists(const std::string& name) const {
        return psql("postgres",
                    "SELECT count(*) FROM pg_database WHERE datname = '" + name + "'") == "1";
    }
    std::string fresh_dump(const std::string& dbname) const {
        RunResult r = pg_tool("pg_dump", {"-d", dbname});
        if (r.exit_code != 0) throw std::runtime_error("pg_dump: " + r.describe());
        return comparable_dump(r.out);
    }

    RunResult coffer(const std::vector<std::string>& args) const {
        std::vector<std::string> all{"--config", cfg};
        all.insert(all.end(), args.begin(), args.end());
        RunOptions o;
        o.env = repo.base_env();
        o.env["TMPDIR"] = tmp;
        o.timeout_s = 300;
        return run_process(coffer_bin(), all, o);
    }
    size_t snapshot_count() const {
        RunResult r = coffer({"snapshots", "--json"});
        if (r.exit_code != 0) throw std::runtime_error("snapshots: " + r.describe());
        return r.json().size();
    }
    // The dump and recorded checks of a snapshot, through a restore into a directory.
    std::pair<std::string, nlohmann::json> snapshot_files(const std::string& snapshot) const {
        std::string out = dir / ("files-" + snapshot);
        RunResult r =
            coffer({"restore", "--set", "platform", "--snapshot", snapshot, "--target", out});
        if (r.exit_code != 0) throw std::runtime_error("restore --target: " + r.describe());
        return {comparable_dump(read_file(out + "/db/database.sql")),
                nlohmann::json::parse(read_file(out + "/db/checks.json"))};
    }

    TempDir dir;
    Repo repo{dir.path()};
    std::string tmp = dir / "tmp", cfg = dir / "coffer.toml";
    std::string host, port, password, db;
};

TEST_F(PostgresTest, BackupUnderLoadRestoresIntoAnotherDatabaseAndInPlace) {
    // pgbench writes (updates and history inserts) throughout the backup.
    RunResult bench;
    std::thread writer([&] { bench = pg_tool("pgbench", {"-c", "2", "-T", "10", db}); });
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    RunResult b = coffer({"backup", "--set", "platform", "--json"});
    writer.join();
    ASSERT_EQ(b.exit_code, 0) << b.describe();
    ASSERT_EQ(bench.exit_code, 0) << bench.describe();
    std::string snapshot = b.json()["snapshot_id"];
    auto [dump, recorded] = snapshot_files(snapshot);
    ASSERT_TRUE(contains(dump, "CREATE TABLE public.pgbench_accounts"));
    EXPECT_EQ(recorded["tables"]["public.pgbench_accounts"], 100000);
    EXPECT_GT(recorded["tables"]["public.pgbench_history"].get<int64_t>(), 0)
        << "the backup did not overlap pgbench's writes";
    // The live database kept changing after the snapshot.
    EXPECT_GT(rows(db, "pgbench_history"), recorded["tables"]["public.pgbench_history"]);

    // Into another database: every count matches, and a fresh dump equals the backed-up one.
    RunResult drill =
        coffer({"restore", "--set", "platform", "--into-database", db + "_drill", "--json"});
    ASSERT_EQ(drill.exit_code, 0) << drill.describe();
    auto checks = checks_of(drill.json());
    EXPECT_EQ(checks["row count public.pgbench_history"],
              "ok: " + std::to_string(recorded["tables"]["public.pgbench_history"].get<int64_t>()) +
                  " rows, " +
                  std::to_string(recorded["tables"]["public.pgbench_history"].get<int64_t>()) +
                  " recorded");
    EXPECT_EQ(checks.count("row count public.pgbench_accounts"), 1u);
    EXPECT_EQ(fresh_dump(db + "_drill"), dump);
    EXPECT_EQ(snapshot_count(), 1u) << "a restore into another database takes no safety snapshot";

    // A second --into-database of the same name refuses rather than overwriting.
    RunResult again = coffer({"restore", "--set", "platform", "--into-database", db + "_drill"});
    EXPECT_NE(again.exit_code, 0);
    EXPECT_TRUE(contains(again.err, "already exists")) << again.describe();

    // In place: more writes, then the destructive restore brings back exactly the snapshot.
    psql(db, "DELETE FROM pgbench_accounts WHERE aid <= 500");
    RunResult in_place = coffer({"restore", "--set", "platform", "--snapshot", snapshot,
                                 "--confirm", "platform", "--json"});
    ASSERT_EQ(in_place.exit_code, 0) << in_place.describe();
    EXPECT_EQ(in_place.json()["ok"], true);
    EXPECT_EQ(checks_of(in_place.json())["replace"], "ok: " + db + " replaced");
    EXPECT_EQ(rows(db, "pgbench_accounts"), 100000);
    EXPECT_EQ(rows(db, "pgbench_history"), recorded["tables"]["public.pgbench_history"]);
    EXPECT_EQ(fresh_dump(db), dump);
    EXPECT_FALSE(database_exists(db + "_coffer_restore"));
    EXPECT_EQ(snapshot_count(), 2u) << "the destructive restore saves a safety snapshot";
}

TEST_F(PostgresTest, DiffShowsADroppedTableAndChangedCounts) {
    RunResult first = coffer({"backup", "--set", "platform", "--json"});
    ASSERT_EQ(first.exit_code, 0) << first.describe();
    psql(db, "DROP TABLE pgbench_tellers; DELETE FROM pgbench_accounts WHERE aid <= 10");
    RunResult second = coffer({"backup", "--set", "platform", "--json"});
    ASSERT_EQ(second.exit_code, 0) << second.describe();
    RunResult d = coffer({"diff", first.json()["snapshot_id"], second.json()["snapshot_id"],
                          "--source", "db", "--json"});
    ASSERT_EQ(d.exit_code, 0) << d.describe();
    const nlohmann::json out = d.json();
    std::map<std::string, std::pair<int64_t, int64_t>> counts;
    for (const auto& x : out["tables"]) counts[x["table"]] = {x["before"], x["after"]};
    EXPECT_EQ(counts["public.pgbench_tellers"], std::make_pair(int64_t{10}, int64_t{-1}));
    EXPECT_EQ(counts["public.pgbench_accounts"], std::make_pair(int64_t{100000}, int64_t{99990}));
}

TEST_F(PostgresTest, UnreachableServerAndWrongPasswordSaveNothing) {
    write_config("postgresql://postgres:" + password + "@127.0.0.1:1/" + db);
    RunResult unreachable = coffer({"backup", "--set", "platform"});
    EXPECT_NE(unreachable.exit_code, 0);
    EXPECT_TRUE(contains(unreachable.err, "source 'db'")) << unreachable.describe();
    EXPECT_TRUE(contains(unreachable.err, "cannot connect to PostgreSQL"))
        << unreachable.describe();

    const std::string wrong = "not-the-" + random_hex(6);
    write_config(dsn(db, wrong));
    RunResult denied = coffer({"backup", "--set", "platform"});
    EXPECT_NE(denied.exit_code, 0);
    EXPECT_TRUE(contains(denied.err, "password authentication failed")) << denied.describe();
    EXPECT_FALSE(contains(denied.out + denied.err, wrong)) << "the password leaked";
    EXPECT_EQ(snapshot_count(), 0u);
}

TEST_F(PostgresTest, PasswordReachesToolsThroughTheEnvironmentNotArgv) {
    // A pg_dump that records how it was called, then runs the real one.
    std::string log = dir / "pg_dump.log";
    std::string wrapper = dir / "pg_dump-wrapper";
    std::string real = env_or_empty("COFFER_TEST_PG_BIN") + "/pg_dump";
    write_file(wrapper,
               "#!/bin/sh\necho \"argv: $*\" >> '" + log + "'\necho \"env: $PGPASSWORD\" >> '" +
                   log + "'\nexec '" + real + "' \"$@\"\n",
               0755);
    write_config(dsn(db), "pg_dump = " + toml(wrapper) + "\n");
    RunResult b = coffer({"backup", "--set", "platform"});
    ASSERT_EQ(b.exit_code, 0) << b.describe();
    std::string calls = read_file(log);
    EXPECT_TRUE(contains(calls, "argv: --format=plain --snapshot=")) << calls;
    EXPECT_FALSE(contains(calls.substr(0, calls.find("env: ")), password)) << calls;
    EXPECT_TRUE(contains(calls, "env: " + password)) << calls;
}

TEST_F(PostgresTest, FailedLoadAndMissingConfirmLeaveTheLiveDatabaseAlone) {
    ASSERT_EQ(coffer({"backup", "--set", "platform"}).exit_code, 0);
    psql(db, "DELETE FROM pgbench_accounts WHERE aid <= 100");

    RunResult unconfirmed = coffer({"restore", "--set", "platform"});
    EXPECT_EQ(unconfirmed.exit_code, 2) << unconfirmed.describe();
    EXPECT_TRUE(contains(unconfirmed.err, "--confirm platform")) << unconfirmed.describe();
    EXPECT_EQ(rows(db, "pgbench_accounts"), 99900);

    // A psql that dies half-way through loading the dump.
    std::string real = env_or_empty("COFFER_TEST_PG_BIN") + "/psql";
    std::string broken = dir / "psql-broken";
    write_file(broken,
               "#!/bin/sh\ncase \"$*\" in *--single-transaction*) head -c 1000 >/dev/null; "
               "echo 'psql: error: connection lost' >&2; exit 2;; esac\nexec '" +
                   real + "' \"$@\"\n",
               0755);
    write_config(dsn(db), "psql = " + toml(broken) + "\n");
    RunResult failed = coffer({"restore", "--set", "platform", "--confirm", "platform"});
    EXPECT_NE(failed.exit_code, 0);
    EXPECT_TRUE(contains(failed.err, "the live database was not touched")) << failed.describe();
    EXPECT_EQ(rows(db, "pgbench_accounts"), 99900);
    EXPECT_FALSE(database_exists(db + "_coffer_restore"));
}

TEST_F(PostgresTest, RolesAreDumpedAndMissingOnesRecreated) {
    std::string role = "coffer_role_" + random_hex(3);
    psql("postgres", "CREATE ROLE " + role + " LOGIN");
    psql(db, "ALTER TABLE pgbench_branches OWNER TO " + role);
    write_config(dsn(db));  // roles = true, the default
    RunResult b = coffer({"backup", "--set", "platform"});
    ASSERT_EQ(b.exit_code, 0) << b.describe();
    psql("postgres", "DROP DATABASE " + db + " WITH (FORCE)");
    psql("postgres", "DROP ROLE " + role);

    // A drill leaves the cluster's roles alone: the missing owner makes its load fail instead.
    RunResult drill = coffer({"restore", "--set", "platform", "--into-database", db + "_drill"});
    EXPECT_NE(drill.exit_code, 0) << drill.describe();
    EXPECT_EQ(psql("postgres", "SELECT count(*) FROM pg_roles WHERE rolname = '" + role + "'"),
              "0");
    EXPECT_FALSE(database_exists(db + "_drill")) << "a failed load leaves no database behind";

    // The database is gone, so there is no current state to keep: the safety snapshot would fail.
    RunResult refused = coffer({"restore", "--set", "platform", "--confirm", "platform"});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_TRUE(contains(refused.err, "--no-safety-snapshot")) << refused.describe();
    RunResult r = coffer({"restore", "--set", "platform", "--confirm", "platform",
                          "--no-safety-snapshot", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    // Other tests create roles on the same server at the same time; only ours is certain.
    std::string roles = checks_of(r.json())["roles"];
    EXPECT_TRUE(roles.starts_with("ok: created ")) << roles;
    EXPECT_TRUE(contains(roles, role)) << roles;
    EXPECT_EQ(psql(db, "SELECT tableowner FROM pg_tables WHERE tablename = 'pgbench_branches'"),
              role);
    psql("postgres", "DROP DATABASE " + db + " WITH (FORCE)");
    psql("postgres", "DROP ROLE " + role);
}

TEST_F(PostgresTest, ANonSuperuserBacksUpWithRolesOff) {
    std::string role = "coffer_reader_" + random_hex(3);
    psql("postgres", "CREATE ROLE " + role + " LOGIN PASSWORD 'reader-pw'");
    psql("postgres", "GRANT pg_read_all_data TO " + role);
    std::string reader_dsn = "postgresql://" + role + ":reader-pw@" + host + ":" + port + "/" + db;
    write_config(reader_dsn);
    RunResult refused = coffer({"backup", "--set", "platform"});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_TRUE(contains(refused.err, "set roles = false")) << refused.describe();
    EXPECT_EQ(snapshot_count(), 0u);

    write_config(reader_dsn, "roles = false\n");
    RunResult b = coffer({"backup", "--set", "platform", "--json"});
    EXPECT_EQ(b.exit_code, 0) << b.describe();
    RunResult ls = coffer({"ls", "latest"});
    EXPECT_TRUE(contains(ls.out, "/db/database.sql")) << ls.describe();
    EXPECT_FALSE(contains(ls.out, "globals.sql")) << ls.describe();
    psql("postgres", "DROP OWNED BY " + role + "; DROP ROLE " + role);
}

// The audit log end to end: every action (a backup, a refused and a real destructive restore, a
// forget) is in it with actor and outcome, the restore's request before anything was touched; it
// verifies live and as an export offline against the host's key given from outside; an edited
// entry is named; and a destructive restore that cannot record its request does not run.
TEST_F(PostgresTest, AuditLogRecordsEveryActionAndVerifiesOffline) {
    RunResult b1 = coffer({"backup", "--set", "platform", "--json"});
    ASSERT_EQ(b1.exit_code, 0) << b1.describe();
    std::string snapshot = b1.json()["snapshot_id"];
    RunResult refused = coffer({"restore", "--set", "platform"});  // no --confirm
    EXPECT_EQ(refused.exit_code, 2) << refused.describe();
    psql(db, "DELETE FROM pgbench_accounts WHERE aid <= 10");
    RunResult in_place = coffer({"restore", "--set", "platform", "--confirm", "platform"});
    ASSERT_EQ(in_place.exit_code, 0) << in_place.describe();
    EXPECT_EQ(rows(db, "pgbench_accounts"), 100000);
    // A second backup, so that keep-last 1 forgets the first (the safety snapshot the restore
    // took is counted apart).
    ASSERT_EQ(coffer({"backup", "--set", "platform"}).exit_code, 0);
    RunResult forget = coffer({"forget", "--keep-last", "1"});
    ASSERT_EQ(forget.exit_code, 0) << forget.describe();

    RunResult show = coffer({"audit", "show", "--json"});
    ASSERT_EQ(show.exit_code, 0) << show.describe();
    std::vector<nlohmann::json> entries;
    for (size_t pos = 0, nl; (nl = show.out.find('\n', pos)) != std::string::npos; pos = nl + 1)
        entries.push_back(nlohmann::json::parse(show.out.substr(pos, nl - pos)));
    auto find = [&](const std::string& action, const std::string& outcome) -> int {
        for (size_t i = 0; i < entries.size(); ++i)
            if (entries[i]["action"] == action && entries[i]["outcome"] == outcome) return int(i);
        return -1;
    };
    ASSERT_GE(entries.size(), 6u) << show.out;
    EXPECT_EQ(entries[0]["action"], "audit.key.activate");
    int backup = find("backup", "ok"), refusal = find("restore", "refused"),
        request = find("restore.request", "started"), restore = find("restore", "ok"),
        forgot = find("forget", "ok");
    ASSERT_GE(backup, 0) << show.out;
    ASSERT_GE(refusal, 0) << show.out;
    ASSERT_GE(request, 0) << show.out;
    ASSERT_GE(restore, 0) << show.out;
    ASSERT_GE(forgot, 0) << show.out;
    EXPECT_LT(backup, refusal);
    EXPECT_LT(request, restore) << "the request is recorded before the restore runs";
    EXPECT_LT(restore, forgot);
    EXPECT_EQ(entries[backup]["details"]["snapshot"], snapshot);
    EXPECT_TRUE(contains(entries[refusal].value("error", ""), "--confirm platform"));
    EXPECT_EQ(entries[request]["details"]["snapshot"], snapshot);
    EXPECT_EQ(entries[request]["details"]["destructive"], true);
    EXPECT_EQ(entries[forgot]["details"]["removed"].size(), 1u);
    for (const auto& e : entries) {
        EXPECT_EQ(e["actor"].get<std::string>().rfind("os:", 0), 0u) << e.dump();
        EXPECT_FALSE(contains(e.dump(), password)) << "a secret in the audit log: " << e.dump();
    }

    RunResult verify = coffer({"audit", "verify"});
    EXPECT_EQ(verify.exit_code, 0) << verify.describe();
    EXPECT_TRUE(contains(verify.out, "repository copy: ok")) << verify.describe();
    RunResult key = coffer({"audit", "key"});
    ASSERT_EQ(key.exit_code, 0) << key.describe();
    std::string trusted = key.out.substr(0, key.out.find('\n'));
    const std::string exported = dir / "audit-export";
    ASSERT_EQ(coffer({"audit", "export", exported}).exit_code, 0);
    RunResult offline = run_process(
        coffer_bin(), {"audit", "verify", "--offline", exported, "--trusted-key", trusted});
    EXPECT_EQ(offline.exit_code, 0) << offline.describe();
    EXPECT_TRUE(contains(offline.out, "anchored")) << offline.describe();
    RunResult proof = coffer({"audit", "prove", std::to_string(request)});
    EXPECT_EQ(proof.exit_code, 0) << proof.describe();

    // An edited entry in the live log is found and named.
    std::string log_path;
    for (const auto& e : fs::recursive_directory_iterator(repo.cache_dir))
        if (e.path().filename() == "log.ndjson") log_path = e.path().string();
    ASSERT_FALSE(log_path.empty());
    std::string log = read_file(log_path);
    std::string good = log;
    size_t at = log.find("\"forget\"");
    ASSERT_NE(at, std::string::npos);
    log.replace(at, 8, "\"f0rget\"");
    write_file(log_path, log, 0600);
    RunResult tampered = coffer({"audit", "verify"});
    EXPECT_EQ(tampered.exit_code, 5) << tampered.describe();
    EXPECT_TRUE(contains(tampered.out, "entries")) << tampered.describe();
    write_file(log_path, good, 0600);

    // A destructive restore that cannot write its request changes nothing.
    fs::remove(log_path);
    fs::create_directory(log_path);  // the log file cannot be read or appended to
    psql(db, "DELETE FROM pgbench_accounts WHERE aid <= 10");
    RunResult blocked = coffer({"restore", "--set", "platform", "--confirm", "platform"});
    EXPECT_NE(blocked.exit_code, 0) << blocked.describe();
    EXPECT_TRUE(contains(blocked.err, "audit log")) << blocked.describe();
    EXPECT_EQ(rows(db, "pgbench_accounts"), 99990) << "the live database was not touched";
    fs::remove(log_path);
    write_file(log_path, good, 0600);
}

// A drill of a PostgreSQL set loads a scratch database on the same server, checks every table's
// row count against the recorded one, drops it afterwards, and leaves the live database as it
// was; --keep leaves the scratch database for inspection.
TEST_F(PostgresTest, DrillLoadsAScratchDatabaseChecksItAndDropsIt) {
    RunResult b = coffer({"backup", "--set", "platform", "--json"});
    ASSERT_EQ(b.exit_code, 0) << b.describe();
    const std::string live_before = fresh_dump(db);
    RunResult d = coffer({"drill", "--set", "platform", "--json"});
    ASSERT_EQ(d.exit_code, 0) << d.describe();
    nlohmann::json r = d.json();
    EXPECT_EQ(r["ok"], true);
    ASSERT_EQ(r["scratch"]["databases"].size(), 1u);
    std::string scratch = r["scratch"]["databases"][0];
    EXPECT_EQ(scratch.rfind("coffer_drill_", 0), 0u);
    EXPECT_FALSE(database_exists(scratch)) << "the scratch database was not dropped";
    auto checks = checks_of(r);
    EXPECT_EQ(checks["row count public.pgbench_accounts"], "ok: 100000 rows, 100000 recorded");
    EXPECT_EQ(fresh_dump(db), live_before) << "the drill changed the live database";
    EXPECT_EQ(snapshot_count(), 1u) << "a drill takes no safety snapshot";

    RunResult kept = coffer({"drill", "--set", "platform", "--keep", "--json"});
    ASSERT_EQ(kept.exit_code, 0) << kept.describe();
    std::string kept_db = kept.json()["scratch"]["databases"][0];
    EXPECT_TRUE(database_exists(kept_db));
    EXPECT_EQ(rows(kept_db, "pgbench_accounts"), 100000);
    psql("postgres", "DROP DATABASE " + kept_db + " WITH (FORCE)");
}

// One set of PostgreSQL, SQLite and files sources drills as a whole: every source restored to
// its scratch target and checked, and a check of a table missing from the PostgreSQL copy fails
// the drill by name while production stays as it was.
TEST_F(PostgresTest, DrillOfAPostgresSqliteAndFilesSetAndAMissingTable) {
    const std::string lite = dir / "app.db", files = dir / "files";
    RunResult made = run_process("/usr/bin/sqlite3",
                                 {lite,
                                  "CREATE TABLE users(id INTEGER PRIMARY KEY, role TEXT);"
                                  "INSERT INTO users(role) VALUES ('admin'), ('user'), ('user');"});
    ASSERT_EQ(made.exit_code, 0) << made.describe();
    make_dir(files);
    write_file(files + "/config.env", "KEY=value\n");
    const std::string sources =
        "roles = false\n[[set.source]]\nname = \"app\"\ntype = \"sqlite\"\n"
        "path = " +
        toml(lite) + "\n[[set.source]]\nname = \"files\"\ntype = \"files\"\npaths = [" +
        toml(files) + "]\n";
    const std::string admin_check =
        "[[set.drill_check]]\nname = \"an admin exists\"\nsource = \"app\"\n"
        "sql = \"SELECT count(*) FROM users WHERE role = 'admin'\"\nexpect = \">= 1\"\n";
    write_config(dsn(db), sources + admin_check);
    RunResult b = coffer({"backup", "--set", "platform", "--json"});
    ASSERT_EQ(b.exit_code, 0) << b.describe();
    const std::string live_before = fresh_dump(db);
    const std::string lite_before = read_file(lite);

    RunResult d = coffer({"drill", "--set", "platform", "--json"});
    ASSERT_EQ(d.exit_code, 0) << d.describe();
    const nlohmann::json r = d.json();
    std::set<std::string> restored;
    for (const auto& p : r["phases"]) restored.insert(p["name"].get<std::string>());
    EXPECT_TRUE(restored.count("restore db (postgres)")) << r["phases"].dump();
    EXPECT_TRUE(restored.count("restore app (sqlite)")) << r["phases"].dump();
    EXPECT_TRUE(restored.count("restore files (files)")) << r["phases"].dump();
    auto checks = checks_of(r);
    EXPECT_EQ(checks["an admin exists"], "ok: '1', expected >= 1");
    EXPECT_EQ(checks["row count users"], "ok: 3 rows, 3 recorded");
    EXPECT_EQ(checks["row count public.pgbench_accounts"], "ok: 100000 rows, 100000 recorded");

    write_config(dsn(db), sources + admin_check +
                              "[[set.drill_check]]\nname = \"audit table present\"\nsource = "
                              "\"db\"\nsql = \"SELECT count(*) FROM audit_events\"\n");
    RunResult missing = coffer({"drill", "--set", "platform"});
    EXPECT_EQ(missing.exit_code, 5) << missing.describe();
    EXPECT_TRUE(contains(missing.out, "FAILED: audit table present")) << missing.describe();
    EXPECT_TRUE(contains(missing.out, "audit_events")) << missing.describe();
    EXPECT_EQ(fresh_dump(db), live_before) << "a drill changed the live database";
    EXPECT_EQ(read_file(lite), lite_before) << "a drill changed the live SQLite file";
}

// With drill_dsn the scratch database goes to that server, never the live one: checked there
// and dropped there. A drill killed after loading it leaves the database behind; the next drill
// drops it through the record the killed one left in its scratch directory.
TEST_F(PostgresTest, DrillUsesTheConfiguredDrillServerAndDropsWhatAKilledDrillLeft) {
    const std::string port2 = env_or_empty("COFFER_TEST_PG2_PORT");
    if (port2.empty()) {
        if (env_or_empty("CI") == "true") FAIL() << "COFFER_TEST_PG2_PORT is not set";
        GTEST_SKIP() << "no second PostgreSQL server: run through scripts/test.sh";
    }
    const std::string drill_server =
        "postgresql://postgres:" + env_or_empty("COFFER_TEST_PG2_PASSWORD") + "@" + host + ":" +
        port2 + "/postgres";
    auto on_drill_server = [&](const std::string& sql) {
        RunOptions o;
        o.env = {{"PGPASSWORD", env_or_empty("COFFER_TEST_PG2_PASSWORD")}};
        RunResult r = run_process(env_or_empty("COFFER_TEST_PG_BIN") + "/psql",
                                  {"-X", "-q", "-At", "-h", host, "-p", port2, "-U", "postgres",
                                   "-d", "postgres", "-c", sql},
                                  o);
        if (r.exit_code != 0) throw std::runtime_error("psql on the drill server: " + r.describe());
        while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
        return r.out;
    };
    auto scratch_databases = [&](auto&& query) {
        return query("SELECT count(*) FROM pg_database WHERE datname LIKE 'coffer\\_drill\\_%'");
    };
    const std::string extra = "roles = false\ndrill_dsn = " + toml(drill_server) + "\n";
    write_config(dsn(db), extra);
    RunResult b = coffer({"backup", "--set", "platform", "--json"});
    ASSERT_EQ(b.exit_code, 0) << b.describe();

    RunResult kept = coffer({"drill", "--set", "platform", "--keep", "--json"});
    ASSERT_EQ(kept.exit_code, 0) << kept.describe();
    const std::string kept_db = kept.json()["scratch"]["databases"][0];
    EXPECT_EQ(on_drill_server("SELECT count(*) FROM pg_database WHERE datname = '" + kept_db + "'"),
              "1");
    EXPECT_FALSE(database_exists(kept_db)) << "the scratch database went to the live server";
    EXPECT_EQ(checks_of(kept.json())["row count public.pgbench_accounts"],
              "ok: 100000 rows, 100000 recorded");
    on_drill_server("DROP DATABASE " + kept_db + " WITH (FORCE)");
    force_remove_all(kept.json()["scratch"]["dir"]);

    write_config(dsn(db), extra + "[[set.drill_check]]\nname = \"slow\"\ncommand = " +
                              toml("touch \"$COFFER_DRILL_DIR.started\"; kill -KILL $PPID; "
                                   "sleep 5") +
                              "\n");
    RunResult killed = coffer({"drill", "--set", "platform"});
    EXPECT_EQ(killed.exit_code, 137) << killed.describe();
    bool started = false;
    for (const auto& e : std::filesystem::directory_iterator(tmp))
        started = started || e.path().string().ends_with(".started");
    ASSERT_TRUE(started) << "killed before the database was loaded";
    EXPECT_EQ(scratch_databases(on_drill_server), "1") << "the killed drill's database";
    const std::string killed_db =
        on_drill_server("SELECT datname FROM pg_database WHERE datname LIKE 'coffer\\_drill\\_%'");
    EXPECT_FALSE(database_exists(killed_db)) << "the scratch database went to the live server";

    write_config(dsn(db), extra);
    RunResult next = coffer({"drill", "--set", "platform", "--json"});
    EXPECT_EQ(next.exit_code, 0) << next.describe();
    EXPECT_TRUE(contains(next.err, ", 1 scratch database(s), 0 scratch prefix(es)"))
        << next.describe();
    EXPECT_EQ(scratch_databases(on_drill_server), "0");
    // (Other tests share the live server: only this test's names are looked for there.)
    EXPECT_FALSE(database_exists(next.json()["scratch"]["databases"][0].get<std::string>()));

    // An unreachable drill server fails the drill and names it; the live server is not used.
    write_config(dsn(db),
                 "roles = false\ndrill_dsn = \"postgresql://postgres@127.0.0.1:1/postgres\"\n");
    RunResult down = coffer({"drill", "--set", "platform", "--json"});
    EXPECT_EQ(down.exit_code, 5) << down.describe();
    EXPECT_TRUE(contains(down.err, "restore of source 'db'")) << down.describe();
    EXPECT_FALSE(database_exists("coffer_drill_" + down.json().value("drill_id", "?")));
}

}  // namespace
}  // namespace coffer::e2e

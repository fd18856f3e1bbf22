// End-to-end: restore drills of backup sets (coffer drill): scratch targets, the set's own
// checks (SQL, command, HTTP and HTTPS, key material), the record of what a killed drill left.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>
#include <tuple>

#include "e2e/set_fixture.h"

namespace coffer::e2e {
namespace {

// A drill restores the set into scratch targets, passes its checks, meets the objectives,
// leaves no scratch behind, runs no hook and changes no byte of the live data; with a damaged
// pack it fails and says where; both runs are in the audit log and the report renders.
TEST_F(SetTest, DrillRestoresIntoScratchAndFailsOnADamagedPack) {
    write_config("[[set]]\nname = \"app\"\nrpo = \"1h\"\nrto = \"10m\"\ndrill_every = \"1h\"\n" +
                 hooks() + sqlite_source(db) + files_source() +
                 command_source("cmd", "cat " + sh(cmd_file), "cat > " + sh(cmd_file)));
    backup_set("app");
    std::string newest = backup_set("app")["snapshot_id"];
    const Manifest live_before = scan_tree(live);
    const std::string report = dir / "drill report.html";
    auto status_of = [&] {
        RunResult st = coffer({"status", "--json"});
        return std::pair{st.exit_code, st.json()["sets"][0]};
    };
    auto [before_code, before] = status_of();
    EXPECT_EQ(before_code, 3) << before.dump();
    EXPECT_EQ(before["drill_status"], "DRILL OVERDUE") << before.dump();

    RunResult ok = coffer({"drill", "--set", "app", "--json", "--report", report});
    ASSERT_EQ(ok.exit_code, 0) << ok.describe();
    nlohmann::json r = ok.json();
    EXPECT_EQ(r["ok"], true);
    EXPECT_EQ(r["snapshot_id"], newest);
    ASSERT_FALSE(r["checks"].empty());
    for (const auto& c : r["checks"]) EXPECT_TRUE(c["ok"].get<bool>()) << c.dump();
    std::set<std::string> phases;
    for (const auto& p : r["phases"]) phases.insert(p["name"].get<std::string>());
    EXPECT_TRUE(phases.count("restore db (sqlite)")) << r["phases"].dump();
    EXPECT_TRUE(phases.count("restore files (files)")) << r["phases"].dump();
    EXPECT_EQ(r["rto"]["objective_s"], 600);
    EXPECT_EQ(r["rto"]["met"], true);
    EXPECT_EQ(r["rpo"]["met"], true);
    EXPECT_EQ(r["rpo"]["snapshots_considered"], 2);
    EXPECT_FALSE(exists(r["scratch"]["dir"].get<std::string>())) << "scratch left behind";
    EXPECT_FALSE(exists(hooks_log)) << "a drill runs no restore hook";
    EXPECT_EQ(diff_manifests(live_before, scan_tree(live)), "") << "the drill touched live data";
    EXPECT_TRUE(contains(read_file(report), "phase-chart"));
    EXPECT_EQ(nlohmann::json::parse(read_file(dir / "drill report.json"))["ok"], true);

    auto [after_code, after] = status_of();
    EXPECT_EQ(after_code, 0) << after.dump();
    EXPECT_EQ(after["drill_status"], "OK") << after.dump();
    EXPECT_EQ(after["last_drill"]["snapshot_id"], newest);
    EXPECT_EQ(after["last_drill"]["ok"], true);

    // --keep leaves the scratch restore for inspection, holding the live files.
    RunResult kept = coffer({"drill", "--set", "app", "--keep", "--json"});
    ASSERT_EQ(kept.exit_code, 0) << kept.describe();
    std::string scratch = kept.json()["scratch"]["dir"];
    EXPECT_TRUE(exists(scratch + "/db"));
    fs::remove_all(scratch);

    // An RPO of one second is missed by a snapshot older than that: checks pass, exit 3.
    write_config("[[set]]\nname = \"app\"\nrpo = \"1s\"\n" + hooks() + sqlite_source(db) +
                 files_source() +
                 command_source("cmd", "cat " + sh(cmd_file), "cat > " + sh(cmd_file)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    RunResult late = coffer({"drill", "--set", "app", "--json"});
    EXPECT_EQ(late.exit_code, 3) << late.describe();
    EXPECT_EQ(late.json()["ok"], true);
    EXPECT_EQ(late.json()["rpo"]["met"], false);

    // One damaged pack: the drill fails, and its report says which restore failed and why.
    for (const auto& e : fs::recursive_directory_iterator(repo.repo + "/packs")) {
        if (!e.is_regular_file()) continue;
        std::string bytes = read_file(e.path().string());
        bytes[bytes.size() / 2] ^= 0x01;
        write_file(e.path().string(), bytes);
    }
    const std::string bad_report = dir / "bad drill.html";
    RunResult bad = coffer({"drill", "--set", "app", "--report", bad_report});
    EXPECT_EQ(bad.exit_code, 5) << bad.describe();
    EXPECT_TRUE(contains(bad.out, "FAILED")) << bad.describe();
    // Which chunk a flip lands in depends on how the workers filled the packs: a source's
    // restore fails, or a file's restore check names the chunk that failed authentication.
    EXPECT_TRUE(contains(bad.out, "restore of source") ||
                contains(bad.out, "failed authentication"))
        << bad.describe();
    EXPECT_EQ(diff_manifests(live_before, scan_tree(live)), "");
    // The report's history holds the earlier drills, read back from the audit log.
    const std::string html = read_file(bad_report);
    const std::string history = html.substr(html.find("<section id=\"history\">"));
    EXPECT_FALSE(contains(history, "No earlier drills")) << history;
    EXPECT_TRUE(contains(history, "PASS")) << history;
    auto [failed_code, failed] = status_of();
    EXPECT_EQ(failed_code, 3);
    EXPECT_EQ(failed["drill_status"], "DRILL FAILED") << failed.dump();

    RunResult audit = coffer({"audit", "show", "--action", "drill"});
    ASSERT_EQ(audit.exit_code, 0) << audit.describe();
    EXPECT_TRUE(contains(audit.out, "drill set app snapshot " + newest + " ok")) << audit.out;
    EXPECT_TRUE(contains(audit.out, " integrity") || contains(audit.out, " failed")) << audit.out;
}

// The set's own drill checks run against the scratch restore: SQL with an expected result, a
// command that finds the scratch copy through COFFER_DRILL_* variables, an HTTP health check.
// A wrong count, a missing table and a refused health check each fail the drill by name.
TEST_F(SetTest, DrillRunsTheSetsOwnChecksAndNamesTheOneThatFailed) {
    httplib::Server health;
    health.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("ok", "text/plain");
    });
    int port = health.bind_to_any_port("127.0.0.1");
    std::thread server([&] { health.listen_after_bind(); });
    const std::string base = "[[set]]\nname = \"app\"\n" + sqlite_source(db) + files_source();
    auto check = [](const std::string& body) { return "[[set.drill_check]]\n" + body; };
    const std::string good =
        check(
            "name = \"admins exist\"\nsource = \"db\"\nsql = \"SELECT count(*) FROM users\"\n"
            "expect = \">= 50\"\n") +
        check("name = \"scratch copy readable\"\ncommand = " +
              toml("test -s \"$COFFER_DRILL_DB_PATH\" && test -d \"$COFFER_DRILL_FILES_PATH\"") +
              "\n") +
        check("name = \"app healthy\"\nhttp = " +
              toml("http://127.0.0.1:" + std::to_string(port) + "/healthz") + "\n");
    write_config(base + good);
    backup_set("app");
    RunResult ok = coffer({"drill", "--set", "app", "--json"});
    EXPECT_EQ(ok.exit_code, 0) << ok.describe();
    std::map<std::string, std::string> results;
    const nlohmann::json drilled = ok.json();  // kept: the loop below refers into it
    for (const auto& c : drilled["checks"])
        results[c["check"].get<std::string>()] =
            (c["ok"].get<bool>() ? "ok: " : "FAIL: ") + c["detail"].get<std::string>();
    EXPECT_EQ(results["admins exist"], "ok: '50', expected >= 50") << ok.out;
    EXPECT_EQ(results["scratch copy readable"], "ok: exit status 0");
    EXPECT_TRUE(contains(results["app healthy"], "ok: GET")) << results["app healthy"];

    for (const auto& [bad, name, says] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {check("name = \"too many\"\nsource = \"db\"\nsql = \"SELECT count(*) FROM users\"\n"
                    "expect = \"> 1000\"\n"),
              "too many", "'50', expected > 1000"},
             {check("name = \"table present\"\nsource = \"db\"\n"
                    "sql = \"SELECT count(*) FROM no_such_table\"\n"),
              "table present", "no such table"},
             {check("name = \"health\"\nhttp = " +
                    toml("http://127.0.0.1:" + std::to_string(port) + "/missing") + "\n"),
              "health", "404, expected 200"}}) {
        write_config(base + good + bad);
        RunResult r = coffer({"drill", "--set", "app"});
        EXPECT_EQ(r.exit_code, 5) << r.describe();
        EXPECT_TRUE(contains(r.out, "FAILED: " + name)) << r.describe();
        EXPECT_TRUE(contains(r.out, says)) << r.describe();
    }
    health.stop();
    server.join();

    // A check the config cannot run is caught by config check, with its line.
    write_config(base + check("name = \"x\"\nsql = \"SELECT 1\"\n"));
    RunResult cfgcheck = coffer({"config", "check"});
    EXPECT_NE(cfgcheck.exit_code, 0);
    EXPECT_TRUE(contains(cfgcheck.err + cfgcheck.out, "source is required with sql"))
        << cfgcheck.describe();
}

// A self-signed certificate for 127.0.0.1, made with the openssl command: {cert, key}.
std::pair<std::string, std::string> self_signed(const std::string& dir) {
    const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
    RunResult r =
        run_process("/usr/bin/openssl", {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                                         key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                                         "-addext", "subjectAltName=IP:127.0.0.1"});
    if (r.exit_code != 0) throw std::runtime_error("openssl req: " + r.describe());
    return {cert, key};
}

// Key material: the key file restored from the files source must decrypt a canary that
// `coffer drill canary` made with the live key. A drill of a backup holding another key fails
// by name. And an https:// health check trusts the CA given in ca_file, and only that.
TEST_F(SetTest, DrillChecksKeyMaterialAndAnHttpsHealthCheck) {
    const std::string key_file = files + "/master.key", canary = dir / "canary.bin";
    const std::string first_key = random_hex(32);
    write_file(key_file, first_key + "\n", 0600);
    RunResult made = coffer(
        {"drill", "canary", "--key-file", key_file, "--text", "the canary sings", "--out", canary});
    ASSERT_EQ(made.exit_code, 0) << made.describe();
    EXPECT_EQ(read_file(canary).size(), 12u + 16u + 16u);
    EXPECT_FALSE(contains(read_file(canary), "the canary sings"));

    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    const auto tls_files = self_signed(dir.path());
    const std::string& cert = tls_files.first;
    const std::string& key = tls_files.second;
    httplib::SSLServer tls(cert.c_str(), key.c_str());
    ASSERT_TRUE(tls.is_valid());
    tls.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("ok", "text/plain");
    });
    int port = tls.bind_to_any_port("127.0.0.1");
    std::thread server([&] { tls.listen_after_bind(); });
    const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/healthz";

    auto checks = [&](const std::string& expect, bool with_ca) {
        return "[[set.drill_check]]\nname = \"master key decrypts\"\nsource = \"files\"\n"
               "decrypt = " +
               toml(canary) + "\nkey_file = " + toml(key_file) + "\nexpect = " + toml(expect) +
               "\n[[set.drill_check]]\nname = \"tls health\"\nhttp = " + toml(url) + "\n" +
               (with_ca ? "ca_file = " + toml(cert) + "\n" : std::string());
    };
    const std::string base = "[[set]]\nname = \"app\"\n" + sqlite_source(db) + files_source();
    write_config(base + checks("the canary sings", true));
    RunResult cfgcheck = coffer({"config", "check"});
    ASSERT_EQ(cfgcheck.exit_code, 0) << cfgcheck.describe();
    backup_set("app");
    RunResult ok = coffer({"drill", "--set", "app", "--json"});
    ASSERT_EQ(ok.exit_code, 0) << ok.describe();
    std::map<std::string, std::string> results;
    const nlohmann::json drilled = ok.json();
    for (const auto& c : drilled["checks"])
        results[c["check"].get<std::string>()] =
            (c["ok"].get<bool>() ? "ok: " : "FAIL: ") + c["detail"].get<std::string>();
    EXPECT_EQ(results["master key decrypts"],
              "ok: canary decrypts with the restored key " + key_file);
    EXPECT_EQ(results["tls health"], "ok: GET " + url + ": 200");

    // Without ca_file the self-signed server is not trusted.
    write_config(base + checks("the canary sings", false));
    RunResult untrusted = coffer({"drill", "--set", "app"});
    EXPECT_EQ(untrusted.exit_code, 5) << untrusted.describe();
    EXPECT_TRUE(contains(untrusted.out, "FAILED: tls health")) << untrusted.describe();
    EXPECT_TRUE(contains(untrusted.out, "certificate")) << untrusted.describe();

    // The wrong text, then a backup holding another key: each fails the decrypt check by name.
    write_config(base + checks("another text", true));
    RunResult wrong_text = coffer({"drill", "--set", "app"});
    EXPECT_EQ(wrong_text.exit_code, 5) << wrong_text.describe();
    EXPECT_TRUE(contains(wrong_text.out, "not the expected text")) << wrong_text.describe();
    write_config(base + checks("the canary sings", true));
    write_file(key_file, random_hex(32) + "\n", 0600);
    backup_set("app");
    RunResult wrong_key = coffer({"drill", "--set", "app"});
    EXPECT_EQ(wrong_key.exit_code, 5) << wrong_key.describe();
    EXPECT_TRUE(contains(wrong_key.out, "FAILED: master key decrypts")) << wrong_key.describe();
    EXPECT_TRUE(contains(wrong_key.out, "does not decrypt with the restored key"))
        << wrong_key.describe();
    // The keys never reach the output, the report or the audit log.
    const std::string second_key = read_file(key_file).substr(0, 64);
    RunResult reported = coffer({"drill", "--set", "app", "--report", dir / "r.html"});
    RunResult audit = coffer({"audit", "show", "--json"});
    const std::string everything = made.out + made.err + ok.out + ok.err + wrong_key.out +
                                   wrong_key.err + reported.out + reported.err + audit.out +
                                   read_file(dir / "r.html") + read_file(dir / "r.json");
    EXPECT_FALSE(contains(everything, first_key));
    EXPECT_FALSE(contains(everything, second_key));

    // A key backed up as a symlink (to a secret mounted elsewhere) is not in the backup: the
    // check must not follow it to the live key.
    const std::string mounted = dir / "mounted.key";
    write_file(mounted, first_key + "\n", 0600);
    fs::remove(key_file);
    fs::create_symlink(mounted, key_file);
    backup_set("app");
    RunResult linked = coffer({"drill", "--set", "app"});
    EXPECT_EQ(linked.exit_code, 5) << linked.describe();
    EXPECT_TRUE(contains(linked.out, "is a symlink in the backup")) << linked.describe();
    tls.stop();
    server.join();

    // config check names what a decrypt check lacks.
    write_config(base + "[[set.drill_check]]\nname = \"k\"\nsource = \"db\"\ndecrypt = " +
                 toml(canary) + "\nkey_file = \"/elsewhere/k\"\n");
    RunResult bad = coffer({"config", "check"});
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_TRUE(contains(bad.err + bad.out, "expect is required with decrypt")) << bad.describe();
    EXPECT_TRUE(contains(bad.err + bad.out, "'db' is not a files source")) << bad.describe();
}

// A drill check that kills the drill (its parent, coffer) with SIGKILL, as an OOM kill or a
// daemon stop would, after marking that the scratch restore is done.
std::string killing_check() {
    return "[[set.drill_check]]\nname = \"killer\"\ncommand = " +
           toml("touch \"$COFFER_DRILL_DIR.started\"; kill -KILL $PPID; sleep 5") + "\n";
}

// A drill killed part-way leaves its scratch directory behind; the next drill removes it, and
// leaves alone one that --keep kept and one that is still running.
TEST_F(SetTest, ADrillKilledPartWayIsCleanedUpByTheNextOne) {
    const std::string base = "[[set]]\nname = \"app\"\n" + sqlite_source(db) + files_source();
    write_config(base);
    backup_set("app");
    RunResult kept = coffer({"drill", "--set", "app", "--keep", "--json"});
    ASSERT_EQ(kept.exit_code, 0) << kept.describe();
    const std::string kept_dir = kept.json()["scratch"]["dir"];

    write_config(base + killing_check());
    RunResult killed = coffer({"drill", "--set", "app"});
    EXPECT_EQ(killed.exit_code, 137) << killed.describe();
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(tmp))
        if (e.is_directory() && e.path().string() != kept_dir) left.push_back(e.path().string());
    ASSERT_EQ(left.size(), 1u) << "the killed drill's scratch directory";
    ASSERT_TRUE(exists(left[0] + ".started")) << "the drill was killed before its checks ran";
    EXPECT_TRUE(exists(left[0] + "/db")) << "the scratch restore";

    write_config(base);
    RunResult next = coffer({"drill", "--set", "app"});
    EXPECT_EQ(next.exit_code, 0) << next.describe();
    EXPECT_TRUE(contains(next.err, "removed what an interrupted drill left: " + left[0] +
                                       ", 0 scratch database(s), 0 scratch prefix(es)"))
        << next.describe();
    EXPECT_FALSE(exists(left[0]));

    // A drill that is running holds its record locked: a second drill leaves it alone.
    write_config(base + "[[set.drill_check]]\nname = \"slow\"\ncommand = " +
                 toml("touch \"$COFFER_DRILL_DIR.slow\"; sleep 3") + "\n");
    RunResult running;
    std::thread first([&] { running = coffer({"drill", "--set", "app", "--json"}); });
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    auto slow_started = [&] {
        for (const auto& e : fs::directory_iterator(tmp))
            if (e.path().string().ends_with(".slow")) return true;
        return false;
    };
    while (!slow_started() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    write_config(base);
    RunResult second = coffer({"drill", "--set", "app"});
    first.join();
    EXPECT_EQ(second.exit_code, 0) << second.describe();
    EXPECT_FALSE(contains(second.err, "interrupted drill")) << second.describe();
    EXPECT_EQ(running.exit_code, 0) << "the running drill was disturbed: " << running.describe();
    EXPECT_TRUE(exists(kept_dir + "/db")) << "a kept drill was swept";
}

}  // namespace
}  // namespace coffer::e2e

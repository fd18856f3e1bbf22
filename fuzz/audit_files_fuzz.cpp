// Where the audit log is read from files and objects: exports (audit/export.h), the journal's
// local files and its replica in the repository (audit/journal.h).
//
// Byte 0 picks a mode (mod 4):
//   0 export round trip: records (tag byte: even a leaf, odd a checkpoint note; varint length,
//     bytes). write_export, then verify_export must report exactly what verify_log reports.
//   1 export files: varint length, entries.ndjson | varint length, checkpoints.ndjson | the rest,
//     keys.ndjson, with a manifest that matches them; verify_export must not fail internally.
//   2 replica objects: records (varint length, name below audit/<key>/ | varint length, bytes)
//     in a MemStore; Journal::read_replica.
//   3 local journal files: varint length, log.ndjson | the rest, checkpoints.ndjson;
//     Journal::load must return the complete lines and cut a torn last line.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coffer/audit/export.h"
#include "coffer/audit/journal.h"
#include "coffer/store/mem/mem_store.h"
#include "coffer/util/file.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::audit;
using coffer::fuzz::Cursor;

namespace {

struct Scratch {
    std::string dir = fuzz::fresh_dir();
    ~Scratch() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> lines_of(std::string_view s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t nl; (nl = s.find('\n', start)) != std::string_view::npos; start = nl + 1)
        out.emplace_back(s.substr(start, nl - start));
    return out;
}

void check_report(const Report& r) {
    if (r.status == LogStatus::failed)
        FUZZ_CHECK_MSG(r.error.message.rfind("internal error", 0) != 0, r.error.message);
}

void export_round_trip(Cursor& in) {
    std::vector<std::string> leaves, checkpoints;
    while (!in.empty() && leaves.size() + checkpoints.size() < 64) {
        uint8_t tag = in.u8();
        (tag % 2 == 0 ? leaves : checkpoints).push_back(fuzz::str(in.chunk()));
    }
    Scratch s;
    std::string dir = s.dir + "/export";
    Status st = write_export(dir, leaves, checkpoints);
    FUZZ_CHECK_MSG(st.ok(), st.to_string());
    FUZZ_CHECK(!write_export(dir, leaves, checkpoints).ok());  // never into a non-empty dir

    TrustAnchor anchor;
    anchor.trusted_keys.push_back(fuzz::fixed_signer(0).verifier().encode());
    Report direct = verify_log("", leaves, checkpoints, anchor);
    auto exported = verify_export(dir, anchor);
    FUZZ_CHECK_MSG(exported.ok(), exported.status().to_string());
    check_report(*exported);
    FUZZ_CHECK_MSG(exported->summary() == direct.summary(),
                   "export: " + exported->summary() + "\ndirect: " + direct.summary());
    FUZZ_CHECK(exported->root == direct.root && exported->entries == direct.entries);

    // The manifest is the export's own integrity check: any change to a file must be caught.
    std::string entries = slurp(dir + "/entries.ndjson");
    if (!entries.empty()) {
        entries[entries.size() / 2] ^= 0x20;
        std::ofstream(dir + "/entries.ndjson", std::ios::binary | std::ios::trunc) << entries;
        auto altered = verify_export(dir, anchor);
        FUZZ_CHECK(!altered.ok() && altered.status().code() == Code::integrity);
    }
}

void export_files(Cursor& in) {
    std::string bodies[3];
    bodies[0] = fuzz::str(in.chunk());
    bodies[1] = fuzz::str(in.chunk());
    bodies[2] = fuzz::str(in.rest());
    static const char* const names[3] = {"entries.ndjson", "checkpoints.ndjson", "keys.ndjson"};
    Scratch s;
    nlohmann::json files = nlohmann::json::object();
    for (int i = 0; i < 3; ++i) {
        FUZZ_CHECK(write_new_file(s.dir + "/" + names[i], as_bytes(bodies[i]), 0644).ok());
        files[names[i]] = crypto::sha256(as_bytes(bodies[i])).hex();
    }
    nlohmann::json manifest{{"format", "coffer.audit.export/v1"},
                            {"origin", std::string(fuzz::k_origin)},
                            {"sha256", files}};
    FUZZ_CHECK(write_new_file(s.dir + "/manifest.json", as_bytes(manifest.dump()), 0644).ok());
    auto r = verify_export(s.dir, TrustAnchor{});
    if (!r.ok()) {
        FUZZ_CHECK_MSG(r.status().code() == Code::corruption, r.status().to_string());
        return;
    }
    check_report(*r);
    FUZZ_CHECK(r->entries <= lines_of(bodies[0]).size());
    FUZZ_CHECK(r->checkpoints <= lines_of(bodies[1]).size());
}

void replica(Cursor& in) {
    auto store = std::make_shared<store::MemStore>();
    size_t checkpoint_objects = 0;
    while (!in.empty()) {
        std::string name = "audit/k/" + fuzz::str(in.chunk());
        ByteView body = in.chunk();
        if (store->stat(name).ok() || !store->put(name, body).ok()) continue;
        if (name.rfind("audit/k/checkpoints/", 0) == 0) ++checkpoint_objects;
    }
    JournalConfig cfg;
    cfg.dir = "/nonexistent";
    cfg.host_key_id = "k";
    cfg.store = store;
    Journal journal(cfg);
    auto r = journal.read_replica();
    if (!r.ok()) {
        FUZZ_CHECK_MSG(
            r.status().code() == Code::corruption || r.status().code() == Code::integrity,
            r.status().to_string());
        return;
    }
    for (const auto& leaf : r->leaves) FUZZ_CHECK(leaf.find('\n') == std::string::npos);
    FUZZ_CHECK(r->checkpoints.size() == checkpoint_objects);
}

void local_files(Cursor& in) {
    std::string log = fuzz::str(in.chunk());
    std::string cps = fuzz::str(in.rest());
    Scratch s;
    FUZZ_CHECK(write_new_file(s.dir + "/log.ndjson", as_bytes(log), 0600).ok());
    FUZZ_CHECK(write_new_file(s.dir + "/checkpoints.ndjson", as_bytes(cps), 0600).ok());
    JournalConfig cfg;
    cfg.dir = s.dir;
    cfg.host_key_id = "k";
    Journal journal(cfg);
    std::vector<std::string> leaves, checkpoints;
    Status st = journal.load(leaves, checkpoints);
    if (!st.ok()) {
        FUZZ_CHECK_MSG(st.code() == Code::corruption, st.to_string());
        return;
    }
    FUZZ_CHECK(leaves == lines_of(log));
    FUZZ_CHECK(checkpoints.size() == lines_of(cps).size());
    // A torn last line is cut from the file, so the file now ends with a complete line.
    std::string after = slurp(s.dir + "/log.ndjson");
    FUZZ_CHECK(after.empty() || after.back() == '\n');
    FUZZ_CHECK(log.compare(0, after.size(), after) == 0);
    std::vector<std::string> leaves2, checkpoints2;
    FUZZ_CHECK(journal.load(leaves2, checkpoints2).ok());
    FUZZ_CHECK(leaves2 == leaves && checkpoints2 == checkpoints);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    switch (in.u8() % 4) {
        case 0:
            export_round_trip(in);
            break;
        case 1:
            export_files(in);
            break;
        case 2:
            replica(in);
            break;
        case 3:
            local_files(in);
            break;
    }
    return 0;
}

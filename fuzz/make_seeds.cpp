// coffer_fuzz_seeds OUTDIR: writes small valid inputs for every fuzz target to OUTDIR/<target>/,
// in each target's input format (mode byte first where the target has modes), sealed with the
// fixed keys of fuzz_common.h so that the targets can open them. fuzz/make_corpus.sh runs it and
// adds the text samples; nothing it writes is meant to be committed.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coffer/audit/entry.h"
#include "coffer/audit/export.h"
#include "coffer/audit/jcs.h"
#include "coffer/audit/merkle.h"
#include "coffer/audit/note.h"
#include "coffer/backup/file_cache.h"
#include "coffer/repo/index.h"
#include "coffer/repo/meta.h"
#include "coffer/repo/pack.h"
#include "coffer/repo/snapshot.h"
#include "coffer/repo/tombstone.h"
#include "coffer/repo/tree.h"
#include "coffer/util/compress.h"
#include "coffer/util/file.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::repo;
using json = nlohmann::json;

namespace {

std::string g_out;

void seed(const std::string& target, const std::string& name, ByteView bytes) {
    std::filesystem::create_directories(g_out + "/" + target);
    std::ofstream f(g_out + "/" + target + "/" + name, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
    if (!f) fuzz::fail(__FILE__, __LINE__, "write seed", target + "/" + name);
}
void seed(const std::string& target, const std::string& name, std::string_view text) {
    seed(target, name, as_bytes(text));
}
// A mode byte, then the bytes.
void seed(const std::string& target, const std::string& name, uint8_t mode, ByteView bytes) {
    Bytes b{mode};
    append(b, bytes);
    seed(target, name, ByteView(b));
}

template <typename T>
T must(Result<T> r, const char* what) {
    if (!r.ok()) fuzz::fail(__FILE__, __LINE__, what, r.status().to_string());
    return std::move(r).value();
}

Bytes varint(uint64_t v) {
    Writer w;
    w.varint(v);
    return w.take();
}

Bytes pseudo_random(std::string_view label, size_t n) {
    return fuzz::fixed_bytes(label, n);  // HKDF output: incompressible, deterministic
}

// ---- repository objects --------------------------------------------------------------------

FinishedPack make_pack() {
    auto keys = fuzz::fixed_keys();
    auto w = must(PackWriter::create(keys, 3), "PackWriter::create");
    std::string text;
    for (int i = 0; i < 40; ++i) text += "line " + std::to_string(i) + " of a small text file\n";
    Tree t;
    Node f;
    f.name = "notes.txt";
    f.mode = 0644;
    f.size = text.size();
    f.content.push_back(keys->chunk_id(ChunkType::data, as_bytes(text)));
    t.nodes.push_back(f);
    Bytes tree = encode_tree(t);
    Refs r;
    r.tree = keys->chunk_id(ChunkType::tree, tree);
    r.data = f.content;
    Bytes refs = encode_refs(r);
    Bytes noise = pseudo_random("pack noise", 300);
    for (auto [type, data] :
         {std::pair{ChunkType::data, ByteView(as_bytes(text))},
          std::pair{ChunkType::data, ByteView(noise)}, std::pair{ChunkType::tree, ByteView(tree)},
          std::pair{ChunkType::refs, ByteView(refs)}}) {
        Status st = w.add(keys->chunk_id(type, data), type, data);
        if (!st.ok()) fuzz::fail(__FILE__, __LINE__, "PackWriter::add", st.to_string());
    }
    return must(w.finish(), "PackWriter::finish");
}

Tree sample_tree() {
    Tree t;
    Node d;
    d.name = "etc";
    d.kind = NodeKind::dir;
    d.mode = 0755;
    d.mtime_ns = 1767225600000000000;
    d.subtree = Id::from(pseudo_random("subtree", 32));
    Node f;
    f.name = "hosts";
    f.mode = 0644;
    f.uid = 1000;
    f.gid = 1000;
    f.mtime_ns = 1767225600123456789;
    f.size = 5;
    f.content.push_back(Id::from(pseudo_random("chunk", 32)));
    Node l;
    l.name = "link";
    l.kind = NodeKind::symlink;
    l.mode = 0777;
    l.link_target = "hosts";
    Node s;
    s.name = "setuid";
    s.mode = 04755;
    t.nodes = {d, f, l, s};  // sorted by name
    return t;
}

void repo_seeds() {
    const KeyRing& keys = *fuzz::fixed_keys();
    FinishedPack pack = make_pack();
    seed("pack_fuzz", "raw_pack", 0, pack.bytes);
    {
        // Mode 1: two 40-byte records and the entry list that describes them.
        Bytes records = pseudo_random("records", 80);
        Writer w;
        w.varint(2);
        for (int i = 0; i < 2; ++i) {
            w.id(Id::from(pseudo_random("entry " + std::to_string(i), 32)));
            w.u8(i + 1);
            w.varint(k_pack_header_size + 40 * i);
            w.varint(40);
            w.varint(11);
        }
        Bytes in = varint(records.size());
        append(in, records);
        append(in, w.out());
        seed("pack_fuzz", "trailer", 1, in);
        Writer empty;
        empty.varint(0);
        Bytes none = varint(0);
        append(none, empty.out());
        seed("pack_fuzz", "trailer_empty", 1, none);
    }
    {
        std::string body(200, 'a');
        Bytes plain{0};  // type data
        append(plain, varint(body.size()));
        plain.push_back(0);
        append(plain, as_bytes(body));
        seed("pack_fuzz", "record_plain", 2, plain);
        Bytes z{2};  // type refs
        append(z, varint(body.size()));
        z.push_back(1);
        append(z, zstd_compress(as_bytes(body), 3));
        seed("pack_fuzz", "record_zstd", 2, z);
    }
    {
        Bytes in{3};  // zstd level 3
        for (auto [type, text] :
             {std::pair{0, std::string(300, 'x')}, std::pair{1, std::string("tree bytes")},
              std::pair{2, std::string("")}}) {
            in.push_back(static_cast<uint8_t>(type));
            append(in, varint(text.size()));
            append(in, as_bytes(text));
        }
        seed("pack_fuzz", "writer", 3, in);
    }

    IndexedPack ip{pack.id, pack.entries};
    Bytes payload = encode_index_payload({ip, IndexedPack{Id::from(pseudo_random("p2", 32)), {}}});
    seed("index_fuzz", "payload", 1, payload);
    seed("index_fuzz", "object", 0, must(seal_meta(keys, MetaType::index, payload), "seal_meta"));

    Snapshot s;
    s.key_id = to_hex(keys.key_id);
    s.time_ns = 1767225600123456789;
    s.hostname = "db1";
    s.paths = {"/etc", "/var/lib/app"};
    s.tags = {"nightly"};
    s.tree = Id::from(pseudo_random("tree", 32));
    s.refs = Id::from(pseudo_random("refs", 32));
    s.sequence = 3;
    s.previous = Id::from(pseudo_random("previous", 32)).hex();
    s.summary.files_new = 10;
    s.summary.duration_s = 1.5;
    std::string plain_json = s.to_json();
    seed("snapshot_fuzz", "manifest", 1, as_bytes(plain_json));
    s.set = "platform";
    s.sources = {{"db", "postgres", 12345, 1}, {"files", "files", 999, 12}};
    std::string set_json = s.to_json();
    seed("snapshot_fuzz", "manifest_set", 1, as_bytes(set_json));
    seed("snapshot_fuzz", "object", 0,
         must(seal_meta(keys, MetaType::snapshot, as_bytes(set_json)), "seal_meta"));
    Tombstone tomb;
    tomb.time_ns = 1767225700000000000;
    tomb.reason = "keep-last 3";
    tomb.snapshots = {{Id::from(pseudo_random("gone", 32)), 1, 1767225000000000000}};
    std::string tomb_json = tomb.to_json();
    seed("snapshot_fuzz", "tombstone", 3, as_bytes(tomb_json));
    seed("snapshot_fuzz", "tombstone_object", 2,
         must(seal_meta(keys, MetaType::tombstone, as_bytes(tomb_json)), "seal_meta"));

    Tree t = sample_tree();
    seed("tree_fuzz", "tree", 0, encode_tree(t));
    Refs r;
    r.tree = Id::from(pseudo_random("tree", 32));
    r.data = {Id::from(pseudo_random("d1", 32)), Id::from(pseudo_random("d2", 32))};
    r.children = {Id::from(pseudo_random("c1", 32))};
    seed("tree_fuzz", "refs", 1, encode_refs(r));

    // restore_fuzz: flags, then a tree (every flag combination once).
    for (uint8_t flags : {0, 1, 2, 3})
        seed("restore_fuzz", "tree" + std::to_string(flags), flags, encode_tree(t));

    SecretBytes host = fuzz::fixed_host().serialize();
    seed("keyfile_fuzz", "host_key", 0, host.view());
    seed("keyfile_fuzz", "sealed_secrets", 3, host.view());
    seed("keyfile_fuzz", "repo_config", 1, as_bytes(fuzz::fixed_config().to_json()));
    json reg = {{"key_id", to_hex(keys.key_id)},
                {"host", "fuzz-host"},
                {"algorithm", "Ed25519"},
                {"signing_public_key", to_hex(keys.signing_public_key)},
                {"created", "2026-01-01T00:00:00.000000000Z"},
                {"status", "active"}};
    seed("keyfile_fuzz", "registry", 2, as_bytes(reg.dump(2) + "\n"));

    std::string rk = fuzz::fixed_recovery().to_text();
    seed("recovery_key_fuzz", "text", 0, as_bytes(rk));
    std::string spaced;
    for (char c : rk) spaced += c == '-' ? std::string("  ") : std::string(1, char(toupper(c)));
    seed("recovery_key_fuzz", "text_spaced", 0, as_bytes(spaced + "\n"));
    seed("recovery_key_fuzz", "bytes", 1, pseudo_random("recovery bytes", 32));

    // locks_fuzz: suffix byte, then the object.
    for (bool prune : {false, true}) {
        json l = {{"kind", prune ? "prune" : "lease"},
                  {"key_id", to_hex(keys.key_id)},
                  {"host", "db1"},
                  {"pid", 4242},
                  {"purpose", prune ? "prune" : "backup --set platform"},
                  {"machine", "boot/pid:[4026531836]"},
                  {"start_ticks", 123456},
                  {"stale_after_ns", 1800000000000},
                  {"created", "2026-01-01T00:00:00.000000000Z"},
                  {"created_ns", 1767225600000000000},
                  {"refreshed", "2026-01-01T00:05:00.000000000Z"},
                  {"refreshed_ns", 1767225900000000000}};
        seed("locks_fuzz", prune ? "prune" : "lease", prune ? 1 : 0, as_bytes(l.dump() + "\n"));
    }
}

// ---- chunker, zstd, file cache -------------------------------------------------------------

void data_seeds() {
    Bytes noise = pseudo_random("chunker data", 4000);
    for (uint8_t avg : {0, 2, 4}) {
        Bytes in{avg, 7, 0x00, 0x00, 0x01, 0x00};  // for_average(65536)
        append(in, noise);
        seed("chunker_fuzz", "noise" + std::to_string(avg), in);
    }
    Bytes text{1, 3, 0x00, 0x00, 0x10, 0x00};
    for (int i = 0; i < 200; ++i) append(text, as_bytes("some text " + std::to_string(i) + "\n"));
    seed("chunker_fuzz", "text", text);

    std::string body;
    for (int i = 0; i < 100; ++i) body += "zstd sample " + std::to_string(i % 7) + "\n";
    Bytes frame = zstd_compress(as_bytes(body), 3);
    Bytes in = varint(body.size());
    append(in, frame);
    seed("zstd_fuzz", "frame", 0, in);
    Bytes rt{3};
    append(rt, as_bytes(body));
    seed("zstd_fuzz", "round_trip", 1, rt);

    std::string dir = fuzz::fresh_dir();
    std::string path = dir + "/cache";
    auto w = must(backup::FileCacheWriter::create(path), "FileCacheWriter::create");
    for (int i = 0; i < 3; ++i) {
        std::vector<Id> chunks;
        for (int c = 0; c < i; ++c)
            chunks.push_back(Id::from(pseudo_random("cache chunk " + std::to_string(c), 32)));
        w.put(Id::from(pseudo_random("cache key " + std::to_string(i), 32)),
              {uint64_t(100 * i), 1767225600000000000 + i, 1767225600000000000 - i, uint64_t(i)},
              chunks);
    }
    Status st = w.commit();
    if (!st.ok()) fuzz::fail(__FILE__, __LINE__, "commit", st.to_string());
    Bytes file = must(read_file(path), "read_file");
    std::filesystem::remove_all(dir);
    for (uint8_t flags : {0, 1, 2, 3}) {
        Bytes in2{flags, static_cast<uint8_t>(flags * 37)};
        append(in2, file);
        seed("file_cache_fuzz", "cache" + std::to_string(flags), in2);
    }
}

// ---- audit ---------------------------------------------------------------------------------

std::string entry(uint64_t index, const std::string& time, const std::string& action, json details,
                  const std::string& outcome = "ok") {
    json e = {{"schema", std::string(audit::k_entry_schema)},
              {"origin", std::string(fuzz::k_origin)},
              {"index", index},
              {"time", time},
              {"actor", "root"},
              {"host", "db1"},
              {"action", action},
              {"target", "platform"},
              {"outcome", outcome},
              {"details", details}};
    return must(audit::canonical_json(e), "canonical_json");
}

std::string checkpoint(const std::vector<std::string>& leaves, std::vector<int> signers) {
    std::vector<Id> hashes;
    for (const auto& l : leaves) hashes.push_back(audit::leaf_hash(as_bytes(l)));
    audit::Checkpoint c{std::string(fuzz::k_origin), leaves.size(), audit::root(hashes), {}};
    std::string text = must(audit::format_checkpoint(c), "format_checkpoint");
    std::vector<audit::Signer> s;
    for (int i : signers) s.push_back(fuzz::fixed_signer(i));
    return must(audit::sign_note(text, s), "sign_note");
}

void audit_seeds() {
    using namespace audit;
    const Signer& k0 = fuzz::fixed_signer(0);
    const Signer& k1 = fuzz::fixed_signer(1);
    std::vector<std::string> leaves = {
        entry(0, "2026-01-01T00:00:00.000Z", std::string(k_action_key_activate),
              {{"key", k0.verifier().encode()}}),
        entry(1, "2026-01-01T00:01:00.000Z", "backup.run", {{"files", 12}}),
        entry(2, "2026-01-01T00:02:00.500Z", "restore.run", json::object(), "failed"),
        entry(3, "2026-01-01T00:03:00Z", std::string(k_action_key_activate),
              {{"key", k1.verifier().encode()}}),
        entry(4, "2026-01-01T00:04:00.000000001Z", std::string(k_action_key_retire),
              {{"key_id", key_id_hex(k0.key_id)}}),
    };
    std::vector<std::string> cps = {checkpoint({leaves.begin(), leaves.begin() + 2}, {0}),
                                    checkpoint({leaves.begin(), leaves.begin() + 4}, {0, 1}),
                                    checkpoint(leaves, {1})};
    for (size_t i = 0; i < leaves.size(); ++i)
        seed("audit_entry_fuzz", "entry" + std::to_string(i), leaves[i]);
    seed("audit_entry_fuzz", "time", "2026-01-01T12:00:00.123456789Z");
    seed("audit_note_fuzz", "checkpoint_note", cps[1]);
    std::string cp_text = cps[0].substr(0, cps[0].find("\n\n") + 1);
    seed("audit_note_fuzz", "checkpoint_text", cp_text);
    seed("audit_note_fuzz", "verifier_key", k0.verifier().encode());
    seed("audit_note_fuzz", "signer_key", k1.encode());

    // audit_log_fuzz: raw leaves and notes, in log order (flags: trust key 0).
    Bytes raw{2};
    auto add = [](Bytes& b, uint8_t tag, std::string_view s) {
        b.push_back(tag);
        append(b, varint(s.size()));
        append(b, as_bytes(s));
    };
    for (size_t i = 0; i < leaves.size(); ++i) {
        add(raw, 0, leaves[i]);
        if (i == 1) add(raw, 1, cps[0]);
        if (i == 3) add(raw, 1, cps[1]);
    }
    add(raw, 1, cps[2]);
    seed("audit_log_fuzz", "raw_log", raw);
    // The same story told with the target's builders (tags 4 and 2).
    Bytes built{2 | 8};
    auto entry_rec = [](Bytes& b, uint8_t action, uint64_t step, std::string_view target) {
        b.push_back(4);
        b.push_back(action);
        append(b, varint(step));
        b.push_back(0);
        append(b, varint(target.size()));
        append(b, as_bytes(target));
    };
    auto cp_rec = [](Bytes& b, uint8_t mask, std::string_view ext) {
        b.push_back(2);
        b.push_back(mask);
        append(b, varint(ext.size()));
        append(b, as_bytes(ext));
    };
    entry_rec(built, 1 | (0 << 2), 0, "genesis");   // activate k0
    entry_rec(built, 0, 120, "/etc");               // backup.run, +60 s
    cp_rec(built, 1, "");                           // signed by k0
    entry_rec(built, 1 | (1 << 2), 120, "rotate");  // activate k1
    cp_rec(built, 3, "");                           // k0 + k1: endorses k1
    entry_rec(built, 2 | (0 << 2), 2, "rotate");    // retire k0
    cp_rec(built, 2, "extension line");             // k1
    entry_rec(built, 0, 3, "/var");                 // 1 s back: within tolerance
    seed("audit_log_fuzz", "built_log", built);

    // audit_files_fuzz
    Bytes rec{0};
    for (size_t i = 0; i < leaves.size(); ++i) {
        add(rec, 0, leaves[i]);
        if (i == 3) add(rec, 1, cps[1]);
    }
    seed("audit_files_fuzz", "export_round_trip", rec);
    std::string dir = fuzz::fresh_dir() + "/export";
    Status st = write_export(dir, leaves, cps);
    if (!st.ok()) fuzz::fail(__FILE__, __LINE__, "write_export", st.to_string());
    std::string bodies[3];
    const char* names[3] = {"entries.ndjson", "checkpoints.ndjson", "keys.ndjson"};
    for (int i = 0; i < 3; ++i)
        bodies[i] = std::string(as_chars(must(read_file(dir + "/" + names[i]), "read_file")));
    std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
    Bytes files{1};
    append(files, varint(bodies[0].size()));
    append(files, as_bytes(bodies[0]));
    append(files, varint(bodies[1].size()));
    append(files, as_bytes(bodies[1]));
    append(files, as_bytes(bodies[2]));
    seed("audit_files_fuzz", "export_files", files);
    Bytes replica{2};
    auto object = [](Bytes& b, std::string_view name, std::string_view body) {
        append(b, varint(name.size()));
        append(b, as_bytes(name));
        append(b, varint(body.size()));
        append(b, as_bytes(body));
    };
    std::string seg1 = leaves[0] + "\n" + leaves[1] + "\n", seg2;
    for (size_t i = 2; i < leaves.size(); ++i) seg2 += leaves[i] + "\n";
    object(replica, "log/000000000000-000000000002", seg1);
    object(replica, "log/000000000002-000000000005", seg2);
    object(replica, "checkpoints/000000000002", cps[0]);
    object(replica, "checkpoints/000000000005", cps[2]);
    seed("audit_files_fuzz", "replica", replica);
    std::string log_lines, cp_lines;
    for (const auto& l : leaves) log_lines += l + "\n";
    for (const auto& c : cps)
        cp_lines += json{{"size", 0}, {"note", crypto::base64_encode(as_bytes(c))}}.dump() + "\n";
    Bytes local{3};
    append(local, varint(log_lines.size() + 5));
    append(local, as_bytes(log_lines + "{\"tor"));  // a torn last line
    append(local, as_bytes(cp_lines));
    seed("audit_files_fuzz", "local_files", local);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    fuzz::init();
    repo_seeds();
    data_seeds();
    audit_seeds();
    return 0;
}

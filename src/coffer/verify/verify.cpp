#include "coffer/verify/verify.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_set>

#include "coffer/repo/meta.h"
#include "coffer/repo/rotation.h"
#include "coffer/repo/tree.h"
#include "coffer/util/encoding.h"
#include "coffer/util/thread_pool.h"

namespace coffer::verify {

using namespace coffer::repo;

namespace {

struct Object {
    std::string name;
    uint64_t size;
};

class Checker {
public:
    Checker(std::shared_ptr<store::Store> store, const Options& options)
        : m_store(std::move(store)), m_opts(options) {}

    Result<Report> run(const HostKey* host, const RecoveryKey* recovery);

private:
    void problem(std::string p) {
        std::lock_guard lock(m_mu);
        m_report.problems.push_back(std::move(p));
    }
    void progress(const std::string& what) {
        if (m_opts.on_progress) m_opts.on_progress(what);
    }
    // Level 1 for one object; returns its bytes when intact.
    std::optional<Bytes> check_named_object(const std::string& kind, const std::string& name,
                                            const std::string& hex);
    void check_structure(Repository& repo);
    void check_snapshot_refs(Repository& repo, const Snapshot& s);
    // Every pack's name, hash and header; with repo (level 3), also decrypts the indexed chunks
    // of the selected packs from the same read. Packs are checked in parallel.
    void check_packs(const std::vector<store::ObjectInfo>& packs, Repository* repo);
    void check_pack(const std::string& name, Repository* repo,
                    const std::vector<std::pair<Id, Location>>* chunks);
    void read_chunks(Repository& repo, const Id& pack, const PackHeader& header, ByteView bytes,
                     const std::vector<std::pair<Id, Location>>& chunks);

    std::shared_ptr<store::Store> m_store;
    const Options& m_opts;
    std::mutex m_mu;  // guards m_report and the pack maps while packs are checked in parallel
    Report m_report;
    std::map<std::string, RegistryEntry> m_registry;
    std::map<Id, uint64_t> m_pack_sizes;                // every intact-named pack
    std::map<Id, std::pair<Bytes, Bytes>> m_pack_ends;  // header and tail, for the trailer check
    std::map<Id, Bytes> m_index_objects;                // intact index objects
    std::map<Id, Bytes> m_snapshot_objects;             // intact snapshot objects
    std::map<Id, Bytes> m_tombstone_objects;            // intact tombstone objects
    std::map<Id, Bytes> m_config_objects;               // intact saved host configs
    std::unordered_set<Id, IdHash> m_refs_checked;
};

std::optional<Bytes> Checker::check_named_object(const std::string& kind, const std::string& name,
                                                 const std::string& hex) {
    auto id = Id::parse_hex(hex);
    if (!id) {
        problem(kind + " " + name + " has a malformed name");
        return std::nullopt;
    }
    auto bytes = m_store->get(name);
    if (!bytes.ok()) {
        problem(kind + " " + hex + " cannot be read: " + bytes.status().message());
        return std::nullopt;
    }
    if (crypto::sha256(*bytes) != *id) {
        problem(kind + " " + hex + " does not match its name: contents damaged or altered");
        return std::nullopt;
    }
    return std::move(*bytes);
}

Result<Report> Checker::run(const HostKey* host, const RecoveryKey* recovery) {
    TRY_ASSIGN(RepoConfig config, Repository::read_config(*m_store));
    auto registry = Repository::load_registry(*m_store);
    if (!registry.ok()) {
        problem(registry.status().message());
    } else {
        m_registry = std::move(registry->entries);
        for (const auto& p : registry->problems) problem(p);
        for (const auto& [id, e] : m_registry)
            if (!e.trusted())
                problem("key registry entry keys/" + id + ".pub (host " + e.host +
                        ") is not trusted: " + e.problem +
                        "; a key is registered only with the recovery key ('coffer key "
                        "add-host'), so someone else wrote this one");
    }
    // A rotation statement that does not verify links nothing (hosts refuse to follow it), but
    // someone wrote it: as with an untrusted registry entry, that is for the operator to see.
    auto rotations = load_rotations(*m_store, config);
    if (!rotations.ok())
        problem(rotations.status().message());
    else
        for (const auto& p : rotations->problems) problem(p);

    // Level 1: names, hashes, shapes and signatures of every object. With --read-data the packs
    // are checked after the index is loaded, so that each pack is read once for both levels.
    progress("checking object names and signatures");
    TRY_ASSIGN(auto packs, m_store->list("packs/"));
    bool read_data_now = m_opts.read_data && recovery;
    if (!read_data_now) check_packs(packs, nullptr);
    for (auto [prefix, kind, store] : {std::tuple{"index/", "index", &m_index_objects},
                                       std::tuple{"snapshots/", "snapshot", &m_snapshot_objects},
                                       std::tuple{"tombstones/", "tombstone", &m_tombstone_objects},
                                       std::tuple{"configs/", "config copy", &m_config_objects}}) {
        TRY_ASSIGN(auto objects, m_store->list(prefix));
        for (const auto& o : objects) {
            std::string hex = o.name.substr(std::string_view(prefix).size());
            auto bytes = check_named_object(kind, o.name, hex);
            std::string_view k = kind;
            (k == "index"       ? m_report.indexes
             : k == "snapshot"  ? m_report.snapshots
             : k == "tombstone" ? m_report.tombstones
                                : m_report.configs)++;
            if (!bytes) continue;
            std::string label = std::string(kind) + " " + hex;
            auto header = parse_meta_header(*bytes, label);
            if (!header.ok()) {
                problem(header.status().message());
                continue;
            }
            auto entry = m_registry.find(to_hex(header->key_id));
            if (entry == m_registry.end()) {
                problem(label + " is signed by unknown key " + to_hex(header->key_id));
                continue;
            }
            const RegistryEntry& signer = entry->second;
            if (!signer.trusted()) {
                problem(label + " is signed by host key " + signer.key_id +
                        ", which the registry does not trust");
                continue;
            }
            Status sig = verify_meta_signature(*bytes, signer.signing_public_key, config.id, label);
            if (!sig.ok()) {
                problem(sig.message());
                continue;
            }
            if (signer.retired() && (k == "snapshot" || k == "tombstone")) {
                const auto& before = k == "snapshot" ? signer.snapshots_before_revocation
                                                     : signer.tombstones_before_revocation;
                if (!before.count(*Id::parse_hex(hex))) {
                    problem(label + " is signed by host key " + signer.key_id + " (host " +
                            signer.host + "), which was revoked on " + signer.revoked +
                            ", and is not one it had signed by then: it was written after "
                            "the revocation, with a revoked key");
                    continue;
                }
            }
            (*store)[*Id::parse_hex(hex)] = std::move(*bytes);
        }
    }
    if (!host && !recovery) {
        m_report.notes.push_back(
            "no host key given: checked names, hashes and signatures only, against a registry "
            "key that only the config vouches for; pass --host-key (or the recovery key) to "
            "anchor it and check the index and snapshot references");
        return m_report;
    }

    // Level 2: structure, with the host key.
    auto repo = Repository::open(m_store, host, recovery);
    if (!repo.ok()) return repo.status();
    if (m_opts.previous_recovery)
        TRY((*repo)->add_previous_recovery_key(*m_opts.previous_recovery));
    m_report.level = 2;
    std::vector<std::string> skipped;  // damaged indexes: already reported at level 1
    Status st = (*repo)->load_index(&skipped);
    if (!st.ok()) problem(st.message());
    if (read_data_now) {
        m_report.level = 3;
        progress("reading and decrypting every pack");
        check_packs(packs, repo->get());
    }
    check_structure(**repo);
    if (m_opts.read_data && !recovery)
        return wrong_key(
            "verify --read-data needs the recovery key: pass "
            "--recovery-key-file or set COFFER_RECOVERY_KEY_FILE");
    return m_report;
}

void Checker::check_structure(Repository& repo) {
    progress("checking index and packs");
    const KeyRing& keys = repo.keys();
    std::map<Id, std::vector<PackEntry>> indexed;  // pack -> entries, from all own indexes
    for (const auto& [id, bytes] : m_index_objects) {
        std::string label = "index " + id.hex();
        auto header = parse_meta_header(bytes, label);
        if (!header.ok() || !ct_equal(header->key_id, keys.key_id)) continue;
        auto payload = open_meta(keys, bytes, MetaType::index, label);
        if (!payload.ok()) {
            problem(payload.status().message());
            continue;
        }
        auto packs = decode_index_payload(*payload, label);
        if (!packs.ok()) {
            problem(packs.status().message());
            continue;
        }
        for (auto& p : *packs) {
            auto size = m_pack_sizes.find(p.pack);
            if (size == m_pack_sizes.end()) {
                problem(label + " references pack " + p.pack.hex() +
                        " which is missing or damaged");
                continue;
            }
            for (const auto& e : p.entries)
                if (uint64_t(e.offset) + e.length > size->second)
                    problem(label + " places chunk " + e.id.short_hex() +
                            " beyond the end of pack " + p.pack.hex());
            auto& list = indexed[p.pack];
            list.insert(list.end(), p.entries.begin(), p.entries.end());
        }
    }
    for (const auto& [pack, size] : m_pack_sizes) {
        std::string hex = pack.hex();
        const auto& [head, tail] = m_pack_ends[pack];
        auto header = parse_pack_header(head, hex);
        if (!header.ok() || !ct_equal(header->key_id, keys.key_id)) continue;
        auto trailer = read_pack_trailer(keys, head, tail, size, hex);
        if (!trailer.ok()) {
            problem(trailer.status().message());
            continue;
        }
        auto it = indexed.find(pack);
        if (it == indexed.end()) {
            m_report.notes.push_back("pack " + hex +
                                     " is not in any index (left by an interrupted backup; "
                                     "prune removes it)");
            continue;
        }
        std::map<Id, PackEntry> in_trailer;
        for (const auto& e : *trailer) in_trailer[e.id] = e;
        for (const auto& e : it->second) {
            auto t = in_trailer.find(e.id);
            if (t == in_trailer.end() || t->second.offset != e.offset ||
                t->second.length != e.length || t->second.type != e.type ||
                t->second.raw_length != e.raw_length)
                problem("index entry for chunk " + e.id.short_hex() + " disagrees with pack " +
                        hex);
        }
    }

    progress("checking snapshots");
    // Every manifest names its predecessor, so a deleted snapshot, the oldest included, is
    // named by the one after it, unless this key's own signed tombstone says it was forgotten.
    std::set<Id> forgotten;
    std::set<uint64_t> forgotten_sequences;
    for (const auto& [id, bytes] : m_tombstone_objects) {
        std::string label = "tombstone " + id.hex();
        auto header = parse_meta_header(bytes, label);
        if (!header.ok() || !ct_equal(header->key_id, keys.key_id)) continue;
        auto payload = open_meta(keys, bytes, MetaType::tombstone, label);
        auto t =
            payload.ok() ? Tombstone::parse(*payload, label) : Result<Tombstone>(payload.status());
        if (!t.ok()) {
            problem(t.status().message());
            continue;
        }
        for (const auto& f : t->snapshots) {
            forgotten.insert(f.id);
            forgotten_sequences.insert(f.sequence);
            if (m_snapshot_objects.count(f.id))
                m_report.notes.push_back("snapshot " + f.id.hex() +
                                         " was forgotten but its manifest remains (an "
                                         "interrupted forget, or Object Lock; 'coffer forget' or "
                                         "'coffer prune' removes it)");
        }
    }
    std::map<uint64_t, Id> by_sequence;
    std::vector<std::pair<Id, std::string>> links;  // snapshot -> the previous one it names
    std::map<Id, uint64_t> sequence_of;
    for (const auto& [id, bytes] : m_snapshot_objects) {
        std::string label = "snapshot " + id.hex();
        auto header = parse_meta_header(bytes, label);
        if (!header.ok() || !ct_equal(header->key_id, keys.key_id)) continue;
        auto payload = open_meta(keys, bytes, MetaType::snapshot, label);
        if (!payload.ok()) {
            problem(payload.status().message());
            continue;
        }
        auto snap = Snapshot::parse(*payload, label);
        if (!snap.ok()) {
            problem(snap.status().message());
            continue;
        }
        snap->id = id;
        links.emplace_back(id, snap->previous);
        sequence_of[id] = snap->sequence;
        if (!by_sequence.emplace(snap->sequence, id).second)
            problem(label + " repeats sequence number " + std::to_string(snap->sequence) +
                    " (a replayed or forked manifest)");
        // A forgotten manifest that stays (Object Lock, an interrupted forget) is no
        // snapshot any more: prune may already have freed its data.
        if (!forgotten.count(id)) check_snapshot_refs(repo, *snap);
    }
    if (!m_opts.expected_latest.empty()) {
        auto expected = Id::parse_hex(m_opts.expected_latest);
        if (expected && !m_snapshot_objects.count(*expected))
            problem("snapshot " + m_opts.expected_latest +
                    " (the newest this host wrote) is missing or damaged");
    }
    // A backup file holds one snapshot of a chain whose other links stayed in the repository.
    if (m_opts.single_snapshot) {
        if (m_snapshot_objects.size() != 1)
            problem("a backup file holds exactly one snapshot; this one holds " +
                    std::to_string(m_snapshot_objects.size()));
        return;
    }
    std::set<uint64_t> reported;  // sequences whose loss a broken link already names
    for (const auto& [id, previous] : links) {
        if (previous.empty()) continue;
        auto prev_id = Id::parse_hex(previous);
        if (prev_id && (m_snapshot_objects.count(*prev_id) || forgotten.count(*prev_id))) continue;
        problem("snapshot " + previous + " is missing or damaged (snapshot " + id.hex() +
                " names it as its predecessor)");
        reported.insert(sequence_of[id] - 1);
    }
    // Links alone miss a deletion whose successor was forgotten (1 <- 2 <- [3 forgotten] <- 4:
    // delete 2 and nothing names it). Every sequence number up to the newest is a manifest
    // or a tombstone's entry.
    uint64_t newest = by_sequence.empty() ? 0 : by_sequence.rbegin()->first;
    if (!forgotten_sequences.empty()) newest = std::max(newest, *forgotten_sequences.rbegin());
    if (newest > by_sequence.size() + forgotten_sequences.size() + 1000000) {
        problem("snapshot numbers of this host key jump to " + std::to_string(newest) +
                ": a manifest or tombstone carries an impossible sequence");
        return;
    }
    for (uint64_t seq = 1; seq <= newest; ++seq)
        if (!by_sequence.count(seq) && !forgotten_sequences.count(seq) && !reported.count(seq))
            problem("snapshot number " + std::to_string(seq) +
                    " of this host key is missing: deleted, and no tombstone says it was "
                    "forgotten");
}

void Checker::check_snapshot_refs(Repository& repo, const Snapshot& s) {
    std::string label = "snapshot " + s.id.hex();
    std::vector<Id> stack{s.refs};
    if (!repo.has_chunk(s.tree))
        problem(label + " references tree " + s.tree.short_hex() + " which is not in the index");
    while (!stack.empty()) {
        Id refs_id = stack.back();
        stack.pop_back();
        if (!m_refs_checked.insert(refs_id).second) continue;
        auto bytes = repo.load_chunk(refs_id, ChunkType::refs);
        if (!bytes.ok()) {
            problem(label + ": " + bytes.status().message());
            continue;
        }
        auto refs = decode_refs(*bytes, refs_id.short_hex());
        if (!refs.ok()) {
            problem(label + ": " + refs.status().message());
            continue;
        }
        if (!repo.has_chunk(refs->tree))
            problem(label + " references tree " + refs->tree.short_hex() +
                    " which is not in the index");
        for (const Id& d : refs->data)
            if (!repo.has_chunk(d))
                problem(label + " references data chunk " + d.short_hex() +
                        " which is not in the index");
        for (const Id& c : refs->children) stack.push_back(c);
    }
}

void Checker::check_packs(const std::vector<store::ObjectInfo>& packs, Repository* repo) {
    // Level 3: the indexed chunks of the selected packs, grouped by pack so that each pack is
    // read once.
    std::unordered_map<Id, std::vector<std::pair<Id, Location>>, IdHash> chunks;
    if (repo) {
        const Index& index = repo->index();
        std::vector<uint32_t> selected(index.packs().size());
        for (uint32_t i = 0; i < selected.size(); ++i) selected[i] = i;
        if (m_opts.read_fraction < 1.0) {
            std::shuffle(selected.begin(), selected.end(), std::mt19937_64(std::random_device{}()));
            size_t keep = static_cast<size_t>(std::ceil(m_opts.read_fraction * selected.size()));
            selected.resize(std::max<size_t>(keep, selected.empty() ? 0 : 1));
        }
        std::vector<bool> wanted(index.packs().size());
        for (uint32_t p : selected) wanted[p] = true;
        for (const auto& [id, loc] : index.chunks())
            if (wanted[loc.pack]) chunks[index.pack_id(loc.pack)].emplace_back(id, loc);
        for (auto& [pack, list] : chunks)  // in pack order: sequential reads of the pack bytes
            std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
                return a.second.offset < b.second.offset;
            });
    }
    // Each task holds one pack in memory: the pool's size bounds the memory.
    unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
    ThreadPool pool(threads, threads);
    for (const auto& o : packs) {
        const std::vector<std::pair<Id, Location>>* list = nullptr;
        std::string hex = o.name.substr(o.name.rfind('/') + 1);
        if (auto id = Id::parse_hex(hex); id && repo) {
            auto it = chunks.find(*id);
            if (it != chunks.end()) list = &it->second;
        }
        pool.submit([this, name = o.name, repo, list] { check_pack(name, repo, list); });
    }
    pool.wait_idle();
}

void Checker::check_pack(const std::string& name, Repository* repo,
                         const std::vector<std::pair<Id, Location>>* chunks) {
    std::string hex = name.substr(name.rfind('/') + 1);
    if (name != "packs/" + hex.substr(0, 2) + "/" + hex) {
        problem("pack " + name + " is stored under the wrong directory");
        return;
    }
    {
        std::lock_guard lock(m_mu);
        m_report.packs++;
    }
    auto id = Id::parse_hex(hex);
    if (!id) {
        problem("pack " + name + " has a malformed name");
        return;
    }
    auto bytes = m_store->get(name);
    if (!bytes.ok()) {
        problem("pack " + hex + " cannot be read: " + bytes.status().message());
        return;
    }
    // A pack that does not match its name is still decrypted below, so the report also names
    // the chunks the damage reached.
    bool intact = crypto::sha256(*bytes) == *id;
    if (!intact) problem("pack " + hex + " does not match its name: contents damaged or altered");
    auto header = parse_pack_header(*bytes, hex);
    if (!header.ok()) {
        problem(header.status().message());
        return;
    }
    if (!m_registry.count(to_hex(header->key_id)))
        problem("pack " + hex + " was written by unknown host key " + to_hex(header->key_id));
    if (intact) {
        // Keep what the trailer check needs, so level 2 does not read every pack again.
        uint32_t trailer_len =
            bytes->size() >= 4 ? load_le32(bytes->data() + bytes->size() - 4) : 0;
        size_t tail = std::min<size_t>(bytes->size(), size_t(trailer_len) + 4);
        std::lock_guard lock(m_mu);
        m_pack_sizes[*id] = bytes->size();
        m_pack_ends[*id] = {Bytes(bytes->begin(), bytes->begin() + k_pack_header_size),
                            Bytes(bytes->end() - tail, bytes->end())};
    }
    if (repo && chunks) read_chunks(*repo, *id, *header, *bytes, *chunks);
}

void Checker::read_chunks(Repository& repo, const Id& pack, const PackHeader& header,
                          ByteView bytes, const std::vector<std::pair<Id, Location>>& chunks) {
    const KeyRing& keys = repo.keys();
    std::string where = " in pack " + pack.short_hex();
    std::optional<SecretBytes> data_key;
    Status key_status;
    uint64_t read = 0, plain_bytes = 0;
    for (const auto& [id, loc] : chunks) {
        read++;
        std::string label = std::string(chunk_type_name(loc.type)) + " chunk " + id.short_hex();
        if (loc.type != ChunkType::refs && !data_key && key_status.ok()) {
            auto key = repo.data_key_of(header, pack.short_hex());
            if (key.ok())
                data_key = std::move(*key);
            else
                key_status = key.status();
        }
        if (loc.type != ChunkType::refs && !data_key) {
            problem(label + where + " cannot be read: " + key_status.message());
            continue;
        }
        if (uint64_t(loc.offset) + loc.length > bytes.size()) {
            problem(label + where + " lies beyond the end of the pack");
            continue;
        }
        ByteView key = loc.type == ChunkType::refs ? keys.metadata_key.view() : data_key->view();
        PackEntry entry{id, loc.type, loc.offset, loc.length, loc.raw_length};
        auto plain = open_record(keys, key, entry, bytes.subspan(loc.offset, loc.length));
        if (!plain.ok()) {
            problem(plain.status().with_context("pack " + pack.short_hex()).message());
            continue;
        }
        if (keys.chunk_id(loc.type, *plain) != id) {
            problem(label + where + " does not match its ID after decryption");
            continue;
        }
        plain_bytes += plain->size();
    }
    std::lock_guard lock(m_mu);
    uint64_t before = m_report.chunks_read;
    m_report.chunks_read += read;
    m_report.bytes_read += plain_bytes;
    if (m_report.chunks_read / 1000 != before / 1000)
        progress("read " + std::to_string(m_report.chunks_read) + " chunks");
}

}  // namespace

Result<Report> verify(std::shared_ptr<store::Store> store, const HostKey* host,
                      const RecoveryKey* recovery, const Options& options) {
    Checker checker(std::move(store), options);
    return checker.run(host, recovery);
}

}  // namespace coffer::verify

#include "coffer/verify/verify.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <unordered_set>

#include "coffer/repo/meta.h"
#include "coffer/repo/tree.h"
#include "coffer/util/encoding.h"

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
    void problem(std::string p) { m_report.problems.push_back(std::move(p)); }
    void progress(const std::string& what) {
        if (m_opts.on_progress) m_opts.on_progress(what);
    }
    // Level 1 for one object; returns its bytes when intact.
    std::optional<Bytes> check_named_object(const std::string& kind, const std::string& name,
                                            const std::string& hex);
    void check_structure(Repository& repo);
    void check_snapshot_refs(Repository& repo, const Snapshot& s);
    void read_data(Repository& repo);

    std::shared_ptr<store::Store> m_store;
    const Options& m_opts;
    Report m_report;
    std::map<std::string, RegistryEntry> m_registry;
    std::map<Id, uint64_t> m_pack_sizes;                // every intact-named pack
    std::map<Id, std::pair<Bytes, Bytes>> m_pack_ends;  // header and tail, for the trailer check
    std::map<Id, Bytes> m_index_objects;                // intact index objects
    std::map<Id, Bytes> m_snapshot_objects;             // intact snapshot objects
    std::map<Id, Bytes> m_tombstone_objects;            // intact tombstone objects
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
    if (!registry.ok())
        problem(registry.status().message());
    else
        m_registry = std::move(*registry);

    // Level 1: names, hashes, shapes and signatures of every object.
    progress("checking object names and signatures");
    TRY_ASSIGN(auto packs, m_store->list("packs/"));
    for (const auto& o : packs) {
        std::string hex = o.name.substr(o.name.rfind('/') + 1);
        if (o.name != "packs/" + hex.substr(0, 2) + "/" + hex) {
            problem("pack " + o.name + " is stored under the wrong directory");
            continue;
        }
        auto bytes = check_named_object("pack", o.name, hex);
        m_report.packs++;
        if (!bytes) continue;
        auto header = parse_pack_header(*bytes, hex);
        if (!header.ok()) {
            problem(header.status().message());
            continue;
        }
        if (!m_registry.count(to_hex(header->key_id)))
            problem("pack " + hex + " was written by unknown host key " + to_hex(header->key_id));
        Id pack_id = *Id::parse_hex(hex);
        m_pack_sizes[pack_id] = bytes->size();
        // Keep what the trailer check needs, so level 2 does not read every pack again.
        uint32_t trailer_len =
            bytes->size() >= 4 ? load_le32(bytes->data() + bytes->size() - 4) : 0;
        size_t tail = std::min<size_t>(bytes->size(), size_t(trailer_len) + 4);
        m_pack_ends[pack_id] = {Bytes(bytes->begin(), bytes->begin() + k_pack_header_size),
                                Bytes(bytes->end() - tail, bytes->end())};
    }
    for (auto [prefix, kind, store] :
         {std::tuple{"index/", "index", &m_index_objects},
          std::tuple{"snapshots/", "snapshot", &m_snapshot_objects},
          std::tuple{"tombstones/", "tombstone", &m_tombstone_objects}}) {
        TRY_ASSIGN(auto objects, m_store->list(prefix));
        for (const auto& o : objects) {
            std::string hex = o.name.substr(std::string_view(prefix).size());
            auto bytes = check_named_object(kind, o.name, hex);
            std::string_view k = kind;
            (k == "index"      ? m_report.indexes
             : k == "snapshot" ? m_report.snapshots
                               : m_report.tombstones)++;
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
            Status sig =
                verify_meta_signature(*bytes, entry->second.signing_public_key, config.id, label);
            if (!sig.ok()) {
                problem(sig.message());
                continue;
            }
            (*store)[*Id::parse_hex(hex)] = std::move(*bytes);
        }
    }
    if (!host && !recovery) {
        m_report.notes.push_back(
            "no host key given: checked names, hashes and signatures only; pass --host-key to "
            "check the index and snapshot references");
        return m_report;
    }

    // Level 2: structure, with the host key.
    auto repo = Repository::open(m_store, host, recovery);
    if (!repo.ok()) return repo.status();
    m_report.level = 2;
    check_structure(**repo);
    if (m_opts.read_data) {
        if (!recovery)
            return wrong_key(
                "verify --read-data needs the recovery key: pass "
                "--recovery-key-file or set COFFER_RECOVERY_KEY_FILE");
        m_report.level = 3;
        read_data(**repo);
    }
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
    std::vector<std::string> skipped;  // damaged indexes: already reported at level 1
    Status st = repo.load_index(&skipped);
    if (!st.ok()) problem(st.message());

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

void Checker::read_data(Repository& repo) {
    const Index& index = repo.index();
    std::vector<uint32_t> packs(index.packs().size());
    for (uint32_t i = 0; i < packs.size(); ++i) packs[i] = i;
    if (m_opts.read_fraction < 1.0) {
        std::shuffle(packs.begin(), packs.end(), std::mt19937_64(std::random_device{}()));
        size_t keep = static_cast<size_t>(std::ceil(m_opts.read_fraction * packs.size()));
        packs.resize(std::max<size_t>(keep, packs.empty() ? 0 : 1));
    }
    std::set<uint32_t> selected(packs.begin(), packs.end());
    size_t done = 0;
    for (const auto& [id, loc] : index.chunks()) {
        if (!selected.count(loc.pack)) continue;
        if (++done % 1000 == 0) progress("read " + std::to_string(done) + " chunks");
        auto data = repo.load_chunk(id, loc.type);
        m_report.chunks_read++;
        if (!data.ok()) {
            problem(data.status().message());
            continue;
        }
        m_report.bytes_read += data->size();
    }
}

}  // namespace

Result<Report> verify(std::shared_ptr<store::Store> store, const HostKey* host,
                      const RecoveryKey* recovery, const Options& options) {
    Checker checker(std::move(store), options);
    return checker.run(host, recovery);
}

}  // namespace coffer::verify

#include "coffer/repo/repository.h"

#include "coffer/repo/rotation.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "coffer/repo/meta.h"

namespace coffer::repo {

using json = nlohmann::json;

namespace {

// Index entries are flushed to an index object whenever this many accumulate, so a crash in a
// long backup leaves most uploaded packs indexed and reusable.
constexpr size_t k_index_flush_entries = 200000;

Result<std::unique_ptr<chunker::Chunker>> make_chunker(const RepoConfig& config,
                                                       const KeyRing& keys) {
    TRY_ASSIGN(auto params, chunker::Params::for_average(config.chunk_avg_size));
    SecretBytes material = crypto::hkdf_sha256(keys.chunk_id_key.view(), keys.repo_id.view(),
                                               as_bytes(info::chunker_gear), 2048);
    return std::make_unique<chunker::Chunker>(chunker::gear_from_material(material.view()), params);
}

}  // namespace

Result<RepoConfig> Repository::read_config(store::Store& store) {
    auto bytes = store.get(k_config_name);
    if (!bytes.ok()) {
        if (bytes.status().code() == Code::not_found)
            return not_found(store.location() +
                             " is not a coffer repository (no config): check --repo, or run "
                             "'coffer init' to create one");
        return bytes.status().with_context("read repository config");
    }
    return RepoConfig::parse(*bytes);
}

Result<Repository::Created> Repository::init(std::shared_ptr<store::Store> store,
                                             const InitOptions& options) {
    auto existing = store->stat(k_config_name);
    if (existing.ok())
        return already_exists(store->location() +
                              " already holds a coffer repository; refusing to overwrite it");
    if (existing.status().code() != Code::not_found) return existing.status();

    TRY(chunker::Params::for_average(options.chunk_avg_size).status());
    // The bounds RepoConfig::parse enforces: checked before anything is written, or init would
    // leave a repository that no one can open.
    if (options.pack_size < (1u << 20) || options.pack_size > (1u << 30))
        return invalid_argument("pack size " + std::to_string(options.pack_size) +
                                " is outside [1 MiB, 1 GiB]");
    RecoveryKey recovery = RecoveryKey::generate();
    RepoConfig config;
    config.id = Id::from(crypto::random_bytes(32));
    config.created = now_rfc3339();
    config.chunk_avg_size = options.chunk_avg_size;
    config.pack_size = options.pack_size;
    config.zstd_level = options.zstd_level;
    config.recovery_public_key = recovery.public_key;
    config.registry_public_key = recovery.registry_public_key(config.id);
    TRY_ASSIGN(HostKey host, HostKey::generate(config, options.host));

    // Keys before config: the config's appearance is what makes the repository exist.
    TRY(register_host_key(*store, config, host, recovery));
    TRY(store->put(k_config_name, as_bytes(config.to_json()), store::PutMode::create_only));

    TRY_ASSIGN(auto repo, open(store, &host, &recovery));
    return Created{std::move(repo), std::move(host), std::move(recovery)};
}

Result<Registry> Repository::load_registry(store::Store& store) {
    TRY_ASSIGN(RepoConfig config, read_config(store));
    return repo::load_registry(store, config);
}

Result<HostKey> Repository::unseal_host_key(store::Store& store, const RepoConfig& config,
                                            const RecoveryKey& recovery,
                                            const std::string& key_id) {
    std::string name = "keys/" + key_id + ".secrets";
    TRY_ASSIGN(Bytes sealed, store.get(name));
    auto text =
        crypto::open_sealed(recovery.private_key.view(), sealed, host_secrets_context(config.id));
    // Midway through a rotation the copy sealed to the new key waits in .secrets.next.
    if (!text.ok())
        if (auto staged = store.get(name + ".next"); staged.ok())
            if (auto other = crypto::open_sealed(recovery.private_key.view(), *staged,
                                                 host_secrets_context(config.id));
                other.ok())
                text = std::move(other);
    if (!text.ok())
        return integrity_error(name + " does not open with the recovery key (damaged?)");
    TRY_ASSIGN(HostKey key, HostKey::parse(text->view()));
    if (key.key_id_hex() != key_id)
        return integrity_error(name + " holds the secrets of another host key");
    return key;
}

Result<std::unique_ptr<Repository>> Repository::open(std::shared_ptr<store::Store> store,
                                                     const HostKey* host,
                                                     const RecoveryKey* recovery,
                                                     std::string key_id) {
    TRY_ASSIGN(RepoConfig config, read_config(*store));
    // A recovery key rotated out still opens the packs not yet rewrapped to its successor.
    bool rotated_out = false;
    if (recovery) {
        TRY_ASSIGN(RecoveryKeyRole role, recovery_key_role(*store, config, *recovery));
        rotated_out = role == RecoveryKeyRole::previous;
    }
    std::optional<HostKey> unsealed;
    if (!host) {
        if (!recovery)
            return invalid_argument("opening a repository needs a host key or the recovery key");
        if (key_id.empty()) {
            TRY_ASSIGN(auto registry, repo::load_registry(*store, config));
            std::vector<std::string> trusted;
            for (const auto& [id, e] : registry.entries)
                if (e.trusted()) trusted.push_back(id);
            if (trusted.size() != 1)
                return invalid_argument("repository has " + std::to_string(trusted.size()) +
                                        " host keys: pass --host-key to choose one");
            key_id = trusted.front();
        }
        TRY_ASSIGN(unsealed, unseal_host_key(*store, config, *recovery, key_id));
        host = &*unsealed;
    }
    // A key issued before a recovery key rotation follows the signed statements to the
    // config's keys (the caller may rewrite its file: repo/rotation.h).
    std::optional<HostKey> followed;
    if (!ct_equal(host->recovery_public_key, config.recovery_public_key) ||
        !ct_equal(host->registry_public_key, config.registry_public_key)) {
        followed = *host;
        TRY(follow_rotations(*store, config, *followed).status());
        host = &*followed;
    }
    TRY(host->check_matches(config));
    // A key must be one the recovery key holder registered. A revoked one still reads (its
    // old snapshots stay restorable) but writes nothing: writable() says so.
    TRY_ASSIGN(auto registry, repo::load_registry(*store, config));
    auto entry = registry.entries.find(host->key_id_hex());
    if (entry == registry.entries.end() || !entry->second.trusted())
        return wrong_key("host key " + host->key_id_hex() + " (host " + host->host +
                         ") is not registered in repository " + config.id.short_hex() +
                         ": pass this repository's host key, or issue one with 'coffer key "
                         "add-host'");
    // The entry's signature covers the signing public key, not the sealed secrets (which anyone
    // can seal to the public recovery key): a key whose signing key is not the registered one
    // is a forgery, whatever its id says.
    if (entry->second.signing_public_key != host->signing_public_key ||
        entry->second.host != host->host)
        return integrity_error("host key " + host->key_id_hex() +
                               " does not match its registry entry (its signing key or host "
                               "name differs): " +
                               (unsealed ? "keys/" + host->key_id_hex() + ".secrets was forged"
                                         : "this key file was altered or forged"));
    std::string revoked_on = entry->second.revoked;
    std::set<Id> allowed_snapshots = entry->second.snapshots_before_revocation;
    std::set<Id> allowed_tombstones = entry->second.tombstones_before_revocation;

    std::unique_ptr<Repository> repo(new Repository());
    repo->m_store = std::move(store);
    repo->m_config = std::move(config);
    repo->m_revoked_on = std::move(revoked_on);
    repo->m_allowed_snapshots = std::move(allowed_snapshots);
    repo->m_allowed_tombstones = std::move(allowed_tombstones);
    TRY_ASSIGN(repo->m_keys, KeyRing::from_host_key(*host, recovery, rotated_out));
    TRY_ASSIGN(repo->m_chunker, make_chunker(repo->m_config, *repo->m_keys));
    return repo;
}

Result<std::vector<Repository::IndexObject>> Repository::read_index_objects(
    std::vector<std::string>* skipped) {
    TRY_ASSIGN(auto objects, m_store->list("index/"));
    std::vector<IndexObject> out;
    auto load_one = [&](const store::ObjectInfo& o) -> Status {
        std::string hex = o.name.substr(6);
        std::string label = "index " + hex;
        auto id = Id::parse_hex(hex);
        if (!id) return corruption("index/ holds a stray object " + o.name);
        TRY_ASSIGN(Bytes bytes, m_store->get(o.name));
        if (crypto::sha256(bytes) != *id)
            return integrity_error(label +
                                   " does not match its name (damaged): run 'coffer "
                                   "verify' and restore it from a mirror");
        TRY_ASSIGN(MetaHeader header, parse_meta_header(bytes, label));
        if (!ct_equal(header.key_id, m_keys->key_id)) return ok_status();
        TRY_ASSIGN(Bytes payload, open_meta(*m_keys, bytes, MetaType::index, label));
        TRY_ASSIGN(auto packs, decode_index_payload(payload, label));
        out.push_back({*id, o.mtime_ns, std::move(packs)});
        return ok_status();
    };
    for (const auto& o : objects) {
        Status st = load_one(o);
        if (st.ok()) continue;
        if (!skipped) return st;
        skipped->push_back(st.message());
    }
    return out;
}

Status Repository::load_index(std::vector<std::string>* skipped) {
    TRY_ASSIGN(auto objects, read_index_objects(skipped));
    adopt_index(objects);
    return ok_status();
}

void Repository::adopt_index(const std::vector<IndexObject>& objects) {
    Index index;
    for (const auto& o : objects)
        for (const auto& p : o.packs)
            for (const auto& e : p.entries) index.add(p.pack, e);
    std::lock_guard lock(m_mu);
    m_index = std::move(index);
    m_index_loaded = true;
}

Status Repository::add_previous_recovery_key(const RecoveryKey& previous) {
    TRY_ASSIGN(RecoveryKeyRole role, recovery_key_role(*m_store, m_config, previous));
    if (role != RecoveryKeyRole::previous)
        return invalid_argument(
            "the previous recovery key is the repository's current one: pass it as the "
            "recovery key");
    m_previous_recovery = previous.private_key;
    return ok_status();
}

Status Repository::writable() const {
    if (m_revoked_on.empty()) return ok_status();
    return wrong_key("host key " + to_hex(m_keys->key_id) + " was revoked on " + m_revoked_on +
                     ": it writes nothing more; ask an admin for a new one ('coffer key "
                     "add-host')");
}

Result<std::vector<Id>> Repository::write_index(const std::vector<IndexedPack>& packs) {
    TRY(writable());
    return write_index_objects(packs);
}

Result<std::vector<Id>> Repository::write_index_objects(const std::vector<IndexedPack>& packs) {
    std::vector<Id> ids;
    size_t begin = 0;
    while (begin < packs.size()) {
        size_t end = begin, entries = 0;
        while (end < packs.size() && (end == begin || entries < k_index_flush_entries))
            entries += packs[end++].entries.size();
        std::vector<IndexedPack> part(packs.begin() + begin, packs.begin() + end);
        TRY_ASSIGN(Bytes sealed, seal_meta(*m_keys, MetaType::index, encode_index_payload(part)));
        Id id = crypto::sha256(sealed);
        TRY(m_store->put(index_name(id), sealed));
        {
            std::lock_guard lock(m_mu);
            m_stats.packed_added += sealed.size();
        }
        ids.push_back(id);
        begin = end;
    }
    return ids;
}

Status Repository::ensure_index() {
    {
        std::lock_guard lock(m_mu);
        if (m_index_loaded) return ok_status();
    }
    return load_index();
}

bool Repository::has_chunk(const Id& id) const {
    std::lock_guard lock(m_mu);
    return m_index.contains(id) || m_pending.count(id);
}

Result<bool> Repository::store_chunk(ChunkType type, const Id& id, ByteView plaintext) {
    TRY(writable());
    std::unique_ptr<PackWriter> writer;
    {
        std::lock_guard lock(m_mu);
        if (m_index.contains(id) || !m_pending.insert(id).second) return false;
        if (!m_idle_writers.empty()) {
            writer = std::move(m_idle_writers.back());
            m_idle_writers.pop_back();
        }
    }
    if (!writer) {
        TRY_ASSIGN(PackWriter w,
                   PackWriter::create(m_keys, m_config.zstd_level, {}, expected_pack_size()));
        writer = std::make_unique<PackWriter>(std::move(w));
    }
    if (Status st = writer->add(id, type, plaintext); !st.ok()) {
        std::lock_guard lock(m_mu);
        m_pending.erase(id);
        m_idle_writers.push_back(std::move(writer));
        return st;
    }
    {
        std::lock_guard lock(m_mu);
        m_stats.chunks_added++;
        m_stats.data_added += plaintext.size();
    }
    if (writer->size() >= m_config.pack_size) TRY(upload_pack(*writer));
    std::lock_guard lock(m_mu);
    m_idle_writers.push_back(std::move(writer));
    return true;
}

Status Repository::upload_pack(PackWriter& writer) {
    if (writer.count() == 0) return ok_status();
    TRY_ASSIGN(FinishedPack pack, writer.finish());
    if (Status st = m_store->put(pack_name(pack.id), pack.bytes); !st.ok()) {
        // These chunks are now in no pack: forget them, so that a later store_chunk stores them
        // again instead of deduplicating against a pack that does not exist. The finished
        // writer is unusable; callers drop it.
        std::lock_guard lock(m_mu);
        for (const auto& e : pack.entries) m_pending.erase(e.id);
        return st;
    }
    const size_t pack_bytes = pack.bytes.size();
    TRY_ASSIGN(writer, PackWriter::create(m_keys, m_config.zstd_level, std::move(pack.bytes),
                                          expected_pack_size()));
    std::unique_lock lock(m_mu);
    for (const auto& e : pack.entries) {
        m_index.add(pack.id, e);
        m_pending.erase(e.id);
    }
    m_stats.packed_added += pack_bytes;
    m_stats.packs_written++;
    m_unindexed.push_back({pack.id, std::move(pack.entries)});
    size_t unindexed_entries = 0;
    for (const auto& p : m_unindexed) unindexed_entries += p.entries.size();
    if (unindexed_entries >= k_index_flush_entries) TRY(write_index_locked(lock));
    return ok_status();
}

Status Repository::write_index_locked(std::unique_lock<std::mutex>& lock) {
    if (m_unindexed.empty()) return ok_status();
    std::vector<IndexedPack> packs = std::move(m_unindexed);
    m_unindexed.clear();
    lock.unlock();
    auto written = write_index(packs);
    lock.lock();
    if (!written.ok()) {
        // Keep them for the next attempt; the packs themselves are durable.
        for (auto& p : packs) m_unindexed.push_back(std::move(p));
        return written.status().with_context("write index");
    }
    return ok_status();
}

Status Repository::flush() {
    std::vector<std::unique_ptr<PackWriter>> writers;
    {
        std::lock_guard lock(m_mu);
        writers = std::move(m_idle_writers);
        m_idle_writers.clear();
    }
    Status st;
    for (auto& w : writers) {
        st = upload_pack(*w);
        if (!st.ok()) {
            w.reset();  // finished but not stored (its chunks were forgotten)
            break;
        }
    }
    std::unique_lock lock(m_mu);
    // Writers not reached still hold their pending chunks: keep them for the next flush.
    for (auto& w : writers)
        if (w) m_idle_writers.push_back(std::move(w));
    if (!st.ok()) return st;
    return write_index_locked(lock);
}

WriteStats Repository::write_stats() const {
    std::lock_guard lock(m_mu);
    return m_stats;
}

Result<Id> Repository::save_snapshot(Snapshot& snapshot) {
    TRY(writable());
    TRY_ASSIGN(auto existing, list_snapshots());
    snapshot.key_id = m_keys->key_id.empty() ? "" : to_hex(m_keys->key_id);
    snapshot.sequence = 1;
    snapshot.previous.clear();
    for (const auto& s : existing) {
        if (s.sequence >= snapshot.sequence) {
            snapshot.sequence = s.sequence + 1;
            snapshot.previous = s.id.hex();
        }
    }
    if (m_expected_latest) {
        bool listed = std::any_of(existing.begin(), existing.end(),
                                  [&](const Snapshot& s) { return s.id == *m_expected_latest; });
        bool forgotten = false;
        if (!listed) {
            TRY_ASSIGN(auto tombstones, list_tombstones());
            for (const auto& t : tombstones)
                for (const auto& f : t.snapshots)
                    forgotten = forgotten || f.id == *m_expected_latest;
        }
        if (!listed && !forgotten)
            return integrity_error(
                "the repository's snapshot listing lacks " + m_expected_latest->short_hex() +
                ", the newest snapshot this host wrote: the listing is incomplete or snapshots "
                "were deleted (run coffer verify)");
    }
    std::string payload = snapshot.to_json();
    TRY_ASSIGN(Bytes sealed, seal_meta(*m_keys, MetaType::snapshot, as_bytes(payload)));
    Id id = crypto::sha256(sealed);
    TRY(m_store->put(snapshot_name(id), sealed, store::PutMode::create_only));
    snapshot.id = id;
    return id;
}

Result<SecretBytes> Repository::pack_data_key(const Id& pack) {
    {
        std::lock_guard lock(m_mu);
        auto it = m_data_keys.find(pack);
        if (it != m_data_keys.end()) return it->second;
    }
    std::string label = pack.short_hex();
    TRY_ASSIGN(Bytes header_bytes, m_store->get_range(pack_name(pack), 0, k_pack_header_size));
    TRY_ASSIGN(PackHeader header, parse_pack_header(header_bytes, label));
    auto key = data_key_of(header, label);
    if (!key.ok() && key.status().code() == Code::integrity && !m_previous_recovery) {
        // Before calling it damage: after a rotation, an old pack is sealed to the key it
        // replaced until rewrap moves it.
        auto rotations = load_rotations(*m_store, m_config);
        if (rotations.ok() && !rotations->statements.empty())
            return wrong_key("pack " + label +
                             " does not open with this recovery key: it may be sealed to a "
                             "recovery key a rotation replaced; pass that one too with "
                             "--previous-recovery-key-file, or run 'coffer key rotate-recovery "
                             "--rewrap'");
    }
    if (!key.ok()) return key.status();
    std::lock_guard lock(m_mu);
    m_data_keys.emplace(pack, *key);
    return key;
}

Result<SecretBytes> Repository::data_key_of(const PackHeader& header,
                                            const std::string& label) const {
    auto key = open_data_key(*m_keys, header, label);
    // Until rewrap has rewrapped it, a pack written before a rotation opens only with the key
    // rotated out.
    if (!key.ok() && m_previous_recovery)
        if (auto old = open_data_key_with(m_previous_recovery->view(), m_config.id, header, label);
            old.ok())
            return old;
    return key;
}

Result<Bytes> Repository::load_chunk(const Id& id, ChunkType expected) {
    std::string label = std::string(chunk_type_name(expected)) + " chunk " + id.short_hex();
    std::vector<std::pair<Location, Id>> places;
    {
        std::lock_guard lock(m_mu);
        const Location* l = m_index.find(id);
        if (!l) return not_found(label + " is not in the index (missing data)");
        places.emplace_back(*l, m_index.pack_id(l->pack));
        for (const Location& a : m_index.alternates(id))
            places.emplace_back(a, m_index.pack_id(a.pack));
    }
    auto load_from = [&](const Location& loc, const Id& pack) -> Result<Bytes> {
        if (loc.type != expected)
            return corruption(label + " is indexed as a " + std::string(chunk_type_name(loc.type)) +
                              " chunk");
        SecretBytes data_key;
        ByteView key = m_keys->metadata_key.view();
        if (expected != ChunkType::refs) {
            TRY_ASSIGN(data_key, pack_data_key(pack));
            key = data_key.view();
        }
        auto record = m_store->get_range(pack_name(pack), loc.offset, loc.length);
        if (!record.ok())
            return record.status().with_context(label + " in pack " + pack.short_hex());
        PackEntry entry{id, loc.type, loc.offset, loc.length, loc.raw_length};
        auto plain = open_record(*m_keys, key, entry, *record);
        if (!plain.ok()) return plain.status().with_context("pack " + pack.short_hex());
        if (m_keys->chunk_id(expected, *plain) != id)
            return integrity_error(label + " in pack " + pack.short_hex() +
                                   " does not match its ID after decryption");
        return plain;
    };
    // The first copy that opens: another one is there only after an interrupted prune or
    // rewrap, and the first one's error is the one to report.
    auto first = load_from(places[0].first, places[0].second);
    for (size_t i = 1; i < places.size() && !first.ok(); ++i)
        if (auto other = load_from(places[i].first, places[i].second); other.ok()) return other;
    return first;
}

Result<std::vector<std::pair<Id, Bytes>>> Repository::load_own_meta(std::string_view prefix,
                                                                    MetaType type,
                                                                    std::string_view kind) {
    TRY_ASSIGN(auto objects, m_store->list(prefix));
    std::vector<std::pair<Id, Bytes>> out;
    for (const auto& o : objects) {
        std::string hex = o.name.substr(prefix.size());
        std::string label = std::string(kind) + " " + hex.substr(0, 8);
        auto id = Id::parse_hex(hex);
        if (!id) return corruption(std::string(prefix) + " holds a stray object " + o.name);
        TRY_ASSIGN(Bytes bytes, m_store->get(o.name));
        if (crypto::sha256(bytes) != *id)
            return integrity_error(label + " does not match its name (damaged)");
        TRY_ASSIGN(MetaHeader header, parse_meta_header(bytes, label));
        if (!ct_equal(header.key_id, m_keys->key_id)) continue;
        // A revoked key's objects count only if the revocation names them: anything else was
        // signed with the key after it was revoked (verify reports it).
        if (!m_revoked_on.empty()) {
            const auto& allowed =
                type == MetaType::snapshot ? m_allowed_snapshots : m_allowed_tombstones;
            if (!allowed.count(*id)) continue;
        }
        TRY_ASSIGN(Bytes payload, open_meta(*m_keys, bytes, type, label));
        out.emplace_back(*id, std::move(payload));
    }
    return out;
}

Result<std::vector<Snapshot>> Repository::list_snapshots() {
    TRY_ASSIGN(auto objects, load_own_meta("snapshots/", MetaType::snapshot, "snapshot"));
    TRY_ASSIGN(auto tombstones, list_tombstones());
    std::unordered_set<Id, IdHash> forgotten;
    for (const auto& t : tombstones)
        for (const auto& f : t.snapshots) forgotten.insert(f.id);
    std::vector<Snapshot> out;
    for (const auto& [id, payload] : objects) {
        if (forgotten.count(id)) continue;
        TRY_ASSIGN(Snapshot s, Snapshot::parse(payload, "snapshot " + id.short_hex()));
        s.id = id;
        out.push_back(std::move(s));
    }
    std::sort(out.begin(), out.end(), [](const Snapshot& a, const Snapshot& b) {
        return a.time_ns != b.time_ns ? a.time_ns < b.time_ns : a.id < b.id;
    });
    return out;
}

Result<std::vector<Tombstone>> Repository::list_tombstones() {
    TRY_ASSIGN(auto objects, load_own_meta("tombstones/", MetaType::tombstone, "tombstone"));
    std::vector<Tombstone> out;
    for (const auto& [id, payload] : objects) {
        TRY_ASSIGN(Tombstone t, Tombstone::parse(payload, "tombstone " + id.short_hex()));
        t.id = id;
        out.push_back(std::move(t));
    }
    std::sort(out.begin(), out.end(), [](const Tombstone& a, const Tombstone& b) {
        return a.time_ns != b.time_ns ? a.time_ns < b.time_ns : a.id < b.id;
    });
    return out;
}

Result<Repository::Forgotten> Repository::forget_snapshots(const std::vector<Snapshot>& snapshots,
                                                           const std::string& reason) {
    if (snapshots.empty()) return invalid_argument("forget: no snapshots given");
    TRY(writable());
    TRY_ASSIGN(auto all, list_snapshots());
    uint64_t newest = 0;
    for (const auto& s : all) newest = std::max(newest, s.sequence);
    Tombstone t;
    t.time_ns = now_unix_ns();
    t.reason = reason;
    for (const auto& s : snapshots) {
        if (s.key_id != to_hex(m_keys->key_id))
            return invalid_argument("snapshot " + s.id.short_hex() +
                                    " belongs to another host key; forget it with that key");
        if (s.sequence == newest)
            return invalid_argument("snapshot " + s.id.short_hex() +
                                    " is this host key's newest snapshot, which anchors its "
                                    "chain: it is never forgotten");
        t.snapshots.push_back({s.id, s.sequence, s.time_ns});
    }
    TRY_ASSIGN(Bytes sealed, seal_meta(*m_keys, MetaType::tombstone, as_bytes(t.to_json())));
    Id id = crypto::sha256(sealed);
    TRY(m_store->put(tombstone_name(id), sealed, store::PutMode::create_only)
            .with_context("write tombstone"));
    Forgotten out{id};
    for (const auto& s : snapshots) {
        TRY_ASSIGN(bool removed, remove_forgotten(snapshot_name(s.id), out));
        (void)removed;
    }
    return out;
}

Result<bool> Repository::remove_forgotten(const std::string& name, Forgotten& out) {
    TRY_ASSIGN(int64_t until, m_store->retained_until(name));
    if (until > now_unix_ns()) {
        out.retained++;
        out.retained_until = std::max(out.retained_until, until);
        return false;
    }
    Status st = m_store->remove(name);
    if (st.ok()) return true;
    if (st.code() == Code::not_found) return false;
    return st.with_context("remove forgotten manifest " + name +
                           " (its tombstone is written; forget or prune finishes it)");
}

Result<size_t> Repository::finish_forget() {
    TRY(writable());
    TRY_ASSIGN(auto tombstones, list_tombstones());
    TRY_ASSIGN(auto present, m_store->list("snapshots/"));
    std::unordered_set<std::string> names;
    for (const auto& o : present) names.insert(o.name);
    size_t removed = 0;
    Forgotten ignored;
    for (const auto& t : tombstones)
        for (const auto& s : t.snapshots) {
            if (!names.count(snapshot_name(s.id))) continue;
            TRY_ASSIGN(bool gone, remove_forgotten(snapshot_name(s.id), ignored));
            removed += gone;
        }
    return removed;
}

Result<Snapshot> Repository::find_snapshot(std::string_view spec) {
    TRY_ASSIGN(auto all, list_snapshots());
    if (spec == "latest") {
        if (all.empty()) return not_found("repository has no snapshots yet");
        return all.back();
    }
    if (spec.size() < 4 || spec.size() > 64 ||
        !from_hex(spec.size() % 2 ? std::string(spec) + "0" : std::string(spec)))
        return invalid_argument("'" + std::string(spec) +
                                "' is not a snapshot id: use 'latest', an id, or a prefix of at "
                                "least 4 hex digits");
    std::string prefix(spec);
    for (char& c : prefix) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    std::vector<const Snapshot*> matches;
    for (const auto& s : all)
        if (s.id.hex().compare(0, prefix.size(), prefix) == 0) matches.push_back(&s);
    if (matches.empty()) return not_found("snapshot " + std::string(spec) + " not found");
    if (matches.size() > 1)
        return invalid_argument("snapshot prefix " + std::string(spec) + " is ambiguous (" +
                                std::to_string(matches.size()) +
                                " snapshots match): give more digits");
    return *matches.front();
}

}  // namespace coffer::repo

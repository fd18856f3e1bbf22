#include "coffer/repo/rewrap.h"

#include <map>
#include <set>
#include <unordered_set>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/locks.h"
#include "coffer/repo/repository.h"
#include "coffer/repo/rotation.h"

namespace coffer::repo {

namespace {

enum class Sealed { current, previous, neither };

// One host key's part of the run.
struct HostWork {
    std::string key_id;
    std::unique_ptr<Repository> repo;
    std::vector<Repository::IndexObject> affected;  // index objects naming a previous pack
    std::vector<IndexedPack> replacement;           // what replaces them
    std::set<Id> old_packs;                         // previous packs they name
};

}  // namespace

Result<RewrapStats> rewrap_packs(const std::shared_ptr<store::Store>& store,
                                 const RecoveryKey& current, const RecoveryKey& previous) {
    TRY_ASSIGN(RepoConfig config, Repository::read_config(*store));
    TRY(current.check_matches(config));
    TRY_ASSIGN(Rotation rotation, rotation_from(*store, config, previous));
    TRY_ASSIGN(Registry registry, load_registry(*store, config));
    RewrapStats stats;

    std::map<Id, Sealed> sealed;           // by pack, from its header
    std::map<Id, std::string> written_by;  // by pack: the host key id in its header
    auto classify = [&](const Id& pack) -> Result<Sealed> {
        if (auto it = sealed.find(pack); it != sealed.end()) return it->second;
        TRY_ASSIGN(Bytes bytes, store->get_range(pack_name(pack), 0, k_pack_header_size));
        TRY_ASSIGN(PackHeader header, parse_pack_header(bytes, pack.short_hex()));
        written_by[pack] = to_hex(header.key_id);
        Sealed s = Sealed::neither;
        if (open_data_key_with(current.private_key.view(), config.id, header, pack.short_hex())
                .ok())
            s = Sealed::current;
        else if (open_data_key_with(previous.private_key.view(), config.id, header,
                                    pack.short_hex())
                     .ok())
            s = Sealed::previous;
        sealed[pack] = s;
        return s;
    };

    auto is_previous = [&](const Id& pack) {
        auto it = sealed.find(pack);
        return it != sealed.end() && it->second == Sealed::previous;
    };

    std::vector<HostWork> hosts;
    std::vector<std::unique_ptr<Lock>> locks;
    std::set<std::string> locked;  // host key ids
    for (const auto& [id, entry] : registry.entries) {
        if (!entry.trusted()) {
            stats.problems.push_back("host key " + id + " is not trusted (" + entry.problem +
                                     "): its packs were not rewrapped");
            continue;
        }
        auto host = Repository::unseal_host_key(*store, config, current, id);
        if (!host.ok()) {
            stats.problems.push_back("host key " + id + ": " + host.status().message() +
                                     ": its packs were not rewrapped");
            continue;
        }
        LockOptions lock_options;
        lock_options.purpose = "rewrap";
        TRY_ASSIGN(auto lock, Lock::acquire_prune(store, id, lock_options));
        locks.push_back(std::move(lock));
        locked.insert(id);
        HostWork w;
        w.key_id = id;
        TRY_ASSIGN(w.repo, Repository::open(store, &*host, &current));
        hosts.push_back(std::move(w));
    }

    // Phase 1: copies of the old packs, sealed to the current key.
    for (auto& w : hosts) {
        TRY_ASSIGN(auto objects, w.repo->read_index_objects());
        std::unordered_set<Id, IdHash> in_current;  // chunks a current pack holds already
        for (const auto& o : objects)
            for (const auto& p : o.packs) {
                auto s = classify(p.pack);
                if (!s.ok()) {
                    stats.problems.push_back("pack " + p.pack.short_hex() + ": " +
                                             s.status().message());
                    continue;
                }
                if (*s == Sealed::current)
                    for (const auto& e : p.entries) in_current.insert(e.id);
            }
        std::map<Id, std::optional<IndexedPack>> copies;  // old pack -> its copy (none: covered)
        for (const auto& o : objects) {
            bool names_old = false;
            for (const auto& p : o.packs)
                if (is_previous(p.pack)) names_old = true;
            if (!names_old) continue;
            for (const auto& p : o.packs) {
                if (!is_previous(p.pack) || copies.count(p.pack)) continue;
                w.old_packs.insert(p.pack);
                bool covered = true;
                for (const auto& e : p.entries) covered = covered && in_current.count(e.id);
                // Copied by an earlier, interrupted run whose index is written already.
                if (covered) {
                    copies[p.pack] = std::nullopt;
                    continue;
                }
                TRY_ASSIGN(Bytes bytes, store->get(pack_name(p.pack)));
                TRY_ASSIGN(
                    Bytes header,
                    rewrap_pack_header(ByteView(bytes.data(), k_pack_header_size),
                                       previous.private_key.view(), config.recovery_public_key,
                                       config.id, p.pack.short_hex()));
                TRY_ASSIGN(FinishedPack copy, repack_entries(w.repo->keys(), p.pack, bytes,
                                                             p.entries, "rewrap", header));
                Status st = store->put(pack_name(copy.id), copy.bytes, store::PutMode::create_only);
                if (!st.ok() && st.code() != Code::already_exists) return st;
                ++stats.packs_rewrapped;
                stats.bytes_written += copy.bytes.size();
                copies[p.pack] = IndexedPack{copy.id, std::move(copy.entries)};
            }
            w.affected.push_back(o);
        }
        std::set<Id> kept;
        for (const auto& o : w.affected)
            for (const auto& p : o.packs) {
                if (is_previous(p.pack)) {
                    auto& copy = copies[p.pack];
                    if (copy && kept.insert(copy->pack).second) w.replacement.push_back(*copy);
                } else if (kept.insert(p.pack).second) {
                    w.replacement.push_back(p);
                }
            }
    }
    for (const auto& [pack, s] : sealed)
        if (s == Sealed::current) ++stats.packs_current;

    // Phase 2: index objects naming the copies, for every host before any old one goes.
    for (auto& w : hosts) {
        if (w.affected.empty() || w.replacement.empty()) continue;
        TRY_ASSIGN(auto ids, w.repo->write_index_objects(w.replacement));
        stats.index_written += ids.size();
    }
    for (auto& l : locks) TRY(l->check());
    // Phase 3: the index objects they replace. From here on only the current key restores.
    // One under Object Lock stays until its date, as prune leaves it, and so do the old packs it
    // names; a run after that date removes both (the copies are indexed already).
    const int64_t now = now_unix_ns();
    std::set<Id> kept_by_index;
    for (auto& w : hosts)
        for (const auto& o : w.affected) {
            TRY_ASSIGN(int64_t until, store->retained_until(index_name(o.id)));
            if (until > now) {
                ++stats.index_retained;
                stats.retained_until = std::max(stats.retained_until, until);
                for (const auto& p : o.packs)
                    if (w.old_packs.count(p.pack)) kept_by_index.insert(p.pack);
                continue;
            }
            Status st = store->remove(index_name(o.id));
            if (!st.ok() && st.code() != Code::not_found) return st;
            ++stats.index_removed;
        }
    // Phase 4: the old packs, and any other pack sealed to the previous key that no index names
    // (left by an interrupted backup): the previous key must open nothing.
    std::set<Id> indexed;
    for (auto& w : hosts) {
        TRY_ASSIGN(auto objects, w.repo->read_index_objects());
        for (const auto& o : objects)
            for (const auto& p : o.packs) indexed.insert(p.pack);
    }
    TRY_ASSIGN(auto listed, store->list("packs/"));
    for (const auto& o : listed) {
        auto id = Id::parse_hex(o.name.substr(o.name.rfind('/') + 1));
        if (!id || indexed.count(*id)) continue;
        auto s = classify(*id);
        if (!s.ok()) {
            stats.problems.push_back("pack " + id->short_hex() + ": " + s.status().message());
            continue;
        }
        // Only packs of the host keys locked here: a host skipped above keeps its packs (its
        // index objects still name them), and no other key's writer is excluded by our locks.
        if (*s != Sealed::previous || !locked.count(written_by[*id])) continue;
        TRY_ASSIGN(int64_t until, store->retained_until(o.name));
        if (until > now) {
            ++stats.packs_retained;
            stats.retained_until = std::max(stats.retained_until, until);
            continue;
        }
        Status st = store->remove(o.name);
        if (!st.ok() && st.code() != Code::not_found) return st;
        ++stats.packs_removed;
    }
    stats.packs_retained += kept_by_index.size();
    for (auto& w : hosts)
        for (const auto& p : w.old_packs)
            if (indexed.count(p) && !kept_by_index.count(p))
                stats.problems.push_back("pack " + p.short_hex() +
                                         " is still named by an index object of host key " +
                                         w.key_id + " and was kept");
    if (stats.complete()) TRY(mark_rewrapped(*store, config, current, rotation));
    for (auto& l : locks) TRY(l->release());
    return stats;
}

}  // namespace coffer::repo

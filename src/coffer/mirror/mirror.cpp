#include "coffer/mirror/mirror.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/keys.h"
#include "coffer/repo/rotation.h"
#include "coffer/util/thread_pool.h"

namespace coffer::mirror {

namespace {

// Copy order; see mirror.h. Anything else (locks/, stray files) is not part of the repository.
// Tombstones go before snapshots: a manifest whose predecessor was forgotten at the source is
// valid at the mirror only once the tombstone that explains the gap is there.
const std::vector<std::string> k_groups = {"config",      "keys/",      "packs/",   "index/",
                                           "tombstones/", "snapshots/", "configs/", "audit/"};

std::string group_of(const std::string& name) {
    for (const auto& g : k_groups)
        if (g == "config" ? name == g : name.rfind(g, 0) == 0) return g;
    return {};
}

// Content-addressed objects carry their SHA-256 as the last path component.
bool content_addressed(const std::string& group) {
    return group == "packs/" || group == "index/" || group == "tombstones/" ||
           group == "snapshots/" || group == "configs/";
}

Status check_name(const std::string& name, ByteView data) {
    std::string expected = name.substr(name.rfind('/') + 1);
    if (crypto::sha256(data).hex() != expected)
        return integrity_error("object " + name +
                               " does not match its name (SHA-256): it is damaged at the "
                               "source; run coffer verify there. Nothing of it was copied");
    return ok_status();
}

struct Listing {
    std::map<std::string, uint64_t> from, to;
};

Result<Listing> list_both(store::Store& from, store::Store& to) {
    Listing l;
    // Listed group by group, in the reverse of the write order: whatever a concurrent backup
    // adds after its group was listed is simply left for the next run, while everything a
    // listed snapshot or index needs was written before it and so is listed too.
    for (auto g = k_groups.rbegin(); g != k_groups.rend(); ++g) {
        TRY_ASSIGN(auto a, from.list(*g));
        for (auto& o : a)
            if (group_of(o.name) == *g) l.from[o.name] = o.size;
    }
    TRY_ASSIGN(auto b, to.list(""));
    for (auto& o : b) l.to[o.name] = o.size;
    return l;
}

// How the mirror's config stands to the primary's. Both name their repository by id; after a
// recovery key rotation the primary's config names new keys, and it replaces the mirror's only
// when signed rotation statements at the primary lead from the mirror's keys to the new ones,
// as a host key file follows them (repo/rotation.h). Otherwise a config swapped at the primary
// would spread to the copy kept for the day the primary is not trusted.
enum class ConfigState { absent, same, rotated, other, unlinked };

struct ConfigCheck {
    ConfigState state = ConfigState::absent;
    Bytes primary;  // the primary's config, as read (copied when rotated)
};

Result<ConfigCheck> check_config(store::Store& from, store::Store& to, const Listing& l) {
    ConfigCheck c;
    if (!l.to.count("config")) return c;
    TRY_ASSIGN(c.primary, from.get("config"));
    TRY_ASSIGN(Bytes there, to.get("config"));
    if (c.primary == there) {
        c.state = ConfigState::same;
        return c;
    }
    auto ours = repo::RepoConfig::parse(c.primary);
    auto theirs = repo::RepoConfig::parse(there);
    if (!ours.ok()) return ours.status().with_context("the primary's config");
    if (!theirs.ok() || theirs->id != ours->id) {
        c.state = ConfigState::other;
        return c;
    }
    TRY_ASSIGN(repo::Rotations rotations, repo::load_rotations(from, *ours));
    bool linked = repo::rotation_chain(rotations, theirs->recovery_public_key,
                                       theirs->registry_public_key, *ours)
                      .has_value();
    c.state = linked ? ConfigState::rotated : ConfigState::unlinked;
    return c;
}

// The rotation statements, then the primary's config, before the rest of keys/: the registry
// files re-signed under the new keys verify only against the new config, and the new config is
// accepted only beside the statements. Whatever is copied of the rest, the mirror opens.
Status replace_config(store::Store& from, store::Store& to, const Bytes& primary,
                      std::vector<std::string>& keys_todo, const Options& options,
                      std::atomic<uint64_t>& copied, std::atomic<uint64_t>& bytes) {
    std::vector<std::string> rest;
    for (const auto& name : keys_todo) {
        if (name.rfind("keys/rotation-", 0) != 0) {
            rest.push_back(name);
            continue;
        }
        TRY_ASSIGN(Bytes data, from.get(name));
        TRY(to.put(name, data, store::PutMode::overwrite).with_context("mirror " + name));
        copied++;
        bytes += data.size();
        if (options.on_copied) options.on_copied(name, data.size());
    }
    keys_todo = std::move(rest);
    TRY(to.put("config", primary, store::PutMode::overwrite)
            .with_context("mirror to " + to.location() + ": replace the config"));
    copied++;
    bytes += primary.size();
    if (options.on_copied) options.on_copied("config", primary.size());
    return ok_status();
}

}  // namespace

Result<Outcome> mirror(store::Store& from, store::Store& to, const Options& options) {
    TRY_ASSIGN(Listing l, list_both(from, to));
    if (!l.from.count("config"))
        return not_found("no repository at " + from.location() + " (no config object)");
    TRY_ASSIGN(ConfigCheck config, check_config(from, to, l));
    if (config.state == ConfigState::other)
        return already_exists(to.location() +
                              " holds another repository: mirror to an empty "
                              "location or to a mirror of this one");
    if (config.state == ConfigState::unlinked)
        return integrity_error(
            "the primary's config names other keys than the mirror's at " + to.location() +
            " and no signed rotation statement leads from them: nothing was copied; run coffer "
            "verify on the primary (its config may have been replaced)");
    Outcome out;
    std::atomic<uint64_t> copied{0}, bytes{0}, present{0};
    for (const auto& group : k_groups) {
        // A rotated config waits for keys/, which holds the statements that endorse it.
        if (group == "config" && config.state == ConfigState::rotated) continue;
        std::vector<std::string> todo;
        for (const auto& [name, size] : l.from) {
            if (group_of(name) != group) continue;
            auto there = l.to.find(name);
            // Keys may change status (revocation) and are small: copy them when they differ.
            if (there != l.to.end() &&
                (content_addressed(group) || group == "config" || group == "audit/")) {
                if (there->second != size)
                    return integrity_error("mirror object " + name + " has " +
                                           std::to_string(there->second) +
                                           " bytes, the primary's " + std::to_string(size) +
                                           ": run coffer verify on " + to.location());
                out.objects_present++;
                continue;
            }
            todo.push_back(name);
        }
        if (group == "snapshots/" && options.snapshot_order && !todo.empty()) {
            TRY_ASSIGN(auto order, options.snapshot_order());
            std::map<std::string, size_t> rank;
            for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
            std::stable_sort(todo.begin(), todo.end(), [&](const auto& a, const auto& b) {
                auto ra = rank.count(a) ? rank[a] : order.size();
                auto rb = rank.count(b) ? rank[b] : order.size();
                return ra < rb;
            });
        }
        if (group == "audit/") {
            // Segments before the checkpoints that cover them, so that an interrupted mirror
            // never holds a checkpoint beyond its log. The log verifies by its own means (audit
            // verify): these objects are not named by their hash.
            auto rank = [](const std::string& n) {
                return n.find("/log/") != std::string::npos    ? 0
                       : n.find("/keys/") != std::string::npos ? 1
                                                               : 2;
            };
            std::stable_sort(todo.begin(), todo.end(),
                             [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
        }
        if (group == "keys/" && config.state == ConfigState::rotated)
            TRY(replace_config(from, to, config.primary, todo, options, copied, bytes));
        std::mutex mu;
        Status first_error = ok_status();
        {
            // One at a time for snapshots (oldest first) and audit/ (segments first): the order
            // is the point.
            unsigned threads = group == "snapshots/" || group == "audit/" ? 1 : options.threads;
            ThreadPool pool(threads, threads * 2);
            for (const auto& name : todo) {
                pool.submit([&, name] {
                    {
                        std::lock_guard lock(mu);
                        if (!first_error.ok()) return;
                    }
                    Status st = [&]() -> Status {
                        TRY_ASSIGN(Bytes data, from.get(name));
                        if (content_addressed(group)) TRY(check_name(name, data));
                        if (group == "keys/" && l.to.count(name)) {
                            TRY_ASSIGN(Bytes existing, to.get(name));
                            if (existing == data) {
                                present++;
                                return ok_status();
                            }
                        }
                        TRY(to.put(name, data, store::PutMode::overwrite));
                        copied++;
                        bytes += data.size();
                        if (options.on_copied) options.on_copied(name, data.size());
                        return ok_status();
                    }();
                    if (!st.ok()) {
                        std::lock_guard lock(mu);
                        if (first_error.ok()) first_error = st;
                    }
                });
            }
            pool.wait_idle();
        }
        out.objects_copied = copied.load();
        out.objects_present += present.exchange(0);
        out.bytes_copied = bytes.load();
        // The next group only once this one is complete: that is the consistency guarantee.
        if (!first_error.ok())
            return first_error.with_context("mirror to " + to.location() + " stopped after " +
                                            std::to_string(out.objects_copied) +
                                            " objects (run it again to resume)");
    }
    return out;
}

Result<Lag> compare(store::Store& from, store::Store& to) {
    TRY_ASSIGN(Listing l, list_both(from, to));
    Lag lag;
    TRY_ASSIGN(ConfigCheck config, check_config(from, to, l));
    lag.same_repository =
        config.state != ConfigState::other && config.state != ConfigState::unlinked;
    std::map<std::string, uint64_t> by_folder;
    for (const auto& [name, size] : l.from) {
        auto there = l.to.find(name);
        if (there != l.to.end() && there->second == size) continue;
        std::string g = group_of(name);
        if (g.back() == '/') g.pop_back();
        by_folder[g]++;
        lag.missing_objects++;
        lag.missing_bytes += size;
    }
    lag.missing.assign(by_folder.begin(), by_folder.end());
    return lag;
}

}  // namespace coffer::mirror

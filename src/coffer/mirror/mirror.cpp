#include "coffer/mirror/mirror.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "coffer/crypto/crypto.h"
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

Result<bool> same_config(store::Store& from, store::Store& to, const Listing& l) {
    if (!l.to.count("config")) return true;
    TRY_ASSIGN(Bytes a, from.get("config"));
    TRY_ASSIGN(Bytes b, to.get("config"));
    return a == b;
}

}  // namespace

Result<Outcome> mirror(store::Store& from, store::Store& to, const Options& options) {
    TRY_ASSIGN(Listing l, list_both(from, to));
    if (!l.from.count("config"))
        return not_found("no repository at " + from.location() + " (no config object)");
    TRY_ASSIGN(bool same, same_config(from, to, l));
    if (!same)
        return already_exists(to.location() +
                              " holds another repository: mirror to an empty "
                              "location or to a mirror of this one");
    Outcome out;
    std::atomic<uint64_t> copied{0}, bytes{0}, present{0};
    for (const auto& group : k_groups) {
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
    TRY_ASSIGN(lag.same_repository, same_config(from, to, l));
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

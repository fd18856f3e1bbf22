#include "coffer/prune/prune.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "coffer/crypto/crypto.h"
#include "coffer/repo/keys.h"
#include "coffer/repo/tree.h"

namespace coffer::prune {

using namespace coffer::repo;

namespace {

enum class Fate { keep, young, remove, repack };

struct PackPlan {
    Id id;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    bool indexed = false;
    bool retained = false;           // an undeletable index names it, or Object Lock holds it
    std::vector<PackEntry> entries;  // every indexed entry, deduplicated
    std::vector<PackEntry> used;     // entries whose chunk is used and located here
    uint64_t records_bytes = 0;
    uint64_t used_bytes = 0;
    Fate fate = Fate::keep;
};

class Pruner {
public:
    Pruner(Repository& repo, const Options& options) : m_repo(repo), m_opts(options) {
        m_now = options.now_ns ? options.now_ns : now_unix_ns();
    }
    Result<Report> run();

private:
    void progress(const std::string& s) {
        if (m_opts.on_progress) m_opts.on_progress(s);
    }
    Status check_lock() { return m_opts.check_lock ? m_opts.check_lock() : ok_status(); }
    bool young(int64_t mtime_ns) const { return mtime_ns > m_now - m_opts.grace_ns; }
    Result<int64_t> retained_until(const std::string& name);
    Status mark_used();
    Status plan_packs();
    Status repack(PackPlan& p, std::vector<IndexedPack>& new_index);
    Status remove_object(const std::string& name);
    void finish_counts() {
        m_report.packs_after = m_report.packs - m_report.packs_deleted;
        m_report.bytes_after = m_report.bytes_before - m_report.bytes_deleted + m_repacked_bytes;
    }

    Repository& m_repo;
    const Options& m_opts;
    int64_t m_now;
    Report m_report;
    std::unordered_set<Id, IdHash> m_used;
    std::vector<Repository::IndexObject> m_index_objects;
    std::map<Id, PackPlan> m_packs;
    std::map<Id, std::unordered_set<Id, IdHash>> m_seen;  // per pack, while planning
    uint64_t m_repacked_bytes = 0;                        // size of the new copies
    std::unordered_set<Id, IdHash> m_retained_indexes;    // under Object Lock (plan_packs)
};

Result<int64_t> Pruner::retained_until(const std::string& name) {
    TRY_ASSIGN(int64_t until, m_repo.store().retained_until(name));
    if (until <= m_now) return int64_t{0};
    m_report.retained_until = std::max(m_report.retained_until, until);
    return until;
}

Status Pruner::remove_object(const std::string& name) {
    Status st = m_repo.store().remove(name);
    if (st.ok() || st.code() == Code::not_found) return ok_status();
    return st.with_context("prune: delete " + name);
}

Status Pruner::mark_used() {
    TRY_ASSIGN(auto snapshots, m_repo.list_snapshots());
    m_report.snapshots = snapshots.size();
    const Index& index = m_repo.index();
    auto need = [&](const Id& id, const Snapshot& s) -> Status {
        if (!index.contains(id))
            return integrity_error("snapshot " + s.id.short_hex() + " references chunk " +
                                   id.short_hex() +
                                   " which is not in the index: prune deletes nothing from a "
                                   "damaged repository; run 'coffer verify'");
        m_used.insert(id);
        return ok_status();
    };
    std::unordered_set<Id, IdHash> walked;
    for (const auto& s : snapshots) {
        TRY(need(s.tree, s));
        std::vector<Id> stack{s.refs};
        while (!stack.empty()) {
            Id refs_id = stack.back();
            stack.pop_back();
            if (!walked.insert(refs_id).second) continue;
            TRY(need(refs_id, s));
            TRY_ASSIGN(Bytes bytes, m_repo.load_chunk(refs_id, ChunkType::refs));
            TRY_ASSIGN(Refs refs, decode_refs(bytes, refs_id.short_hex()));
            TRY(need(refs.tree, s));
            for (const Id& d : refs.data) TRY(need(d, s));
            for (const Id& c : refs.children) stack.push_back(c);
        }
    }
    return ok_status();
}

Status Pruner::plan_packs() {
    const KeyRing& keys = m_repo.keys();
    TRY_ASSIGN(auto listed, m_repo.store().list("packs/"));
    std::map<Id, store::ObjectInfo> present;
    for (auto& o : listed) {
        auto id = Id::parse_hex(o.name.substr(o.name.rfind('/') + 1));
        if (id && o.name == pack_name(*id)) present.emplace(*id, std::move(o));
    }
    // Each used chunk counts in the first present pack that holds it (the order the index
    // loads in); other copies are unused. A chunk whose every copy is gone is damage.
    std::unordered_set<Id, IdHash> placed;
    for (const auto& obj : m_index_objects)
        for (const auto& ip : obj.packs) {
            auto it = present.find(ip.pack);
            if (it == present.end()) continue;  // gone already: its entries are simply dropped
            PackPlan& p = m_packs[ip.pack];
            p.id = ip.pack;
            p.size = it->second.size;
            p.mtime_ns = it->second.mtime_ns;
            p.indexed = true;
            auto& seen = m_seen[ip.pack];
            for (const auto& e : ip.entries) {
                if (!seen.insert(e.id).second) continue;
                p.entries.push_back(e);
                p.records_bytes += e.length;
                if (m_used.count(e.id) && placed.insert(e.id).second) {
                    p.used.push_back(e);
                    p.used_bytes += e.length;
                }
            }
        }
    m_seen.clear();
    if (placed.size() != m_used.size())
        return integrity_error(std::to_string(m_used.size() - placed.size()) +
                               " chunks that snapshots use are in no existing pack: prune "
                               "deletes nothing from a damaged repository; run 'coffer verify'");
    // Packs no index names: this key's if their header says so (another key's are not ours to
    // judge: that key's index may name them).
    for (const auto& [id, info] : present) {
        if (m_packs.count(id)) continue;
        TRY_ASSIGN(Bytes head,
                   m_repo.store().get_range(info.name, 0,
                                            std::min<uint64_t>(info.size, k_pack_header_size)));
        auto header = parse_pack_header(head, id.short_hex());
        if (!header.ok() || !ct_equal(header->key_id, keys.key_id)) continue;
        PackPlan& p = m_packs[id];
        p.id = id;
        p.size = info.size;
        p.mtime_ns = info.mtime_ns;
    }
    // Index objects still under Object Lock cannot be deleted, so neither can their packs.
    for (const auto& obj : m_index_objects) {
        TRY_ASSIGN(int64_t until, retained_until(index_name(obj.id)));
        if (!until) continue;
        m_retained_indexes.insert(obj.id);
        m_report.notes.push_back("index " + obj.id.short_hex() + " is under Object Lock until " +
                                 format_rfc3339(until) + ": its packs stay until then");
        for (const auto& ip : obj.packs)
            if (auto it = m_packs.find(ip.pack); it != m_packs.end()) it->second.retained = true;
    }
    for (auto& [id, p] : m_packs) {
        m_report.packs++;
        m_report.bytes_before += p.size;
        const uint64_t records = p.records_bytes;
        if (young(p.mtime_ns)) {
            p.fate = Fate::young;
            m_report.packs_young++;
        } else if (p.used.empty()) {
            p.fate = Fate::remove;
        } else if (records > 0 &&
                   double(records - p.used_bytes) / double(records) > m_opts.max_unused) {
            p.fate = Fate::repack;
        }
        if (p.fate == Fate::remove || p.fate == Fate::repack) {
            // A repacked original goes too; either way the object must be deletable.
            if (!p.retained) {
                TRY_ASSIGN(int64_t until, retained_until(pack_name(id)));
                if (until) p.retained = true;
            }
            if (p.retained) {
                p.fate = Fate::keep;
                m_report.packs_retained++;
            }
        }
        if (p.fate == Fate::keep || p.fate == Fate::young)
            m_report.unused_bytes += records - p.used_bytes;
    }
    if (m_report.packs_retained)
        m_report.notes.push_back(std::to_string(m_report.packs_retained) +
                                 " packs that prune would delete are under Object Lock until " +
                                 format_rfc3339(m_report.retained_until) +
                                 ": prune again after that to delete them");
    return ok_status();
}

Status Pruner::repack(PackPlan& p, std::vector<IndexedPack>& new_index) {
    std::string name = pack_name(p.id);
    TRY_ASSIGN(Bytes bytes, m_repo.store().get(name));
    TRY_ASSIGN(FinishedPack fresh, repack_entries(m_repo.keys(), p.id, bytes, p.used, "prune"));
    TRY(m_repo.store().put(pack_name(fresh.id), fresh.bytes));
    m_report.bytes_written += fresh.bytes.size();
    m_repacked_bytes += fresh.bytes.size();
    new_index.push_back({fresh.id, std::move(fresh.entries)});
    return ok_status();
}

Result<Report> Pruner::run() {
    if (!m_opts.dry_run) {
        TRY_ASSIGN(m_report.forgotten_finished, m_repo.finish_forget());
    }
    progress("reading the index");
    std::vector<std::string> skipped;
    TRY_ASSIGN(m_index_objects, m_repo.read_index_objects(&skipped));
    if (!skipped.empty())
        return integrity_error(skipped.front() +
                               "; prune deletes nothing while an index object is damaged");
    m_repo.adopt_index(m_index_objects);
    progress("finding the data snapshots use");
    TRY(mark_used());
    TRY(plan_packs());

    bool rewrite = false;
    for (const auto& [id, p] : m_packs)
        if (p.indexed && (p.fate == Fate::remove || p.fate == Fate::repack)) rewrite = true;
    if (m_opts.dry_run) {
        for (const auto& [id, p] : m_packs) {
            if (p.fate == Fate::remove) {
                m_report.packs_deleted++;
                m_report.bytes_deleted += p.size;
            } else if (p.fate == Fate::repack) {
                m_report.packs_repacked++;
                m_report.bytes_deleted += p.size;
                m_repacked_bytes += p.used_bytes + k_pack_header_size;  // about: no trailer
            }
        }
        if (rewrite) m_report.indexes_deleted = m_index_objects.size();
        finish_counts();
        return m_report;
    }

    if (rewrite) {
        progress("repacking");
        TRY(check_lock());
        std::vector<IndexedPack> new_index;
        for (auto& [id, p] : m_packs) {
            if (p.fate == Fate::repack) {
                TRY(repack(p, new_index));
                m_report.packs_repacked++;
            } else if (p.indexed && (p.fate == Fate::keep || p.fate == Fate::young)) {
                new_index.push_back({id, p.entries});
            }
        }
        // The new index is durable before any old one goes, and every old one goes before
        // any pack: a pack is removed from the index before it is deleted.
        TRY(check_lock());
        uint64_t before = m_repo.write_stats().packed_added;
        TRY_ASSIGN(auto written, m_repo.write_index(new_index));
        m_report.indexes_written = written.size();
        m_report.bytes_written += m_repo.write_stats().packed_added - before;
        progress("deleting old index objects");
        for (const auto& obj : m_index_objects) {
            if (m_retained_indexes.count(obj.id)) continue;  // its packs were kept (plan_packs)
            TRY(check_lock());
            TRY(remove_object(index_name(obj.id)));
            m_report.indexes_deleted++;
        }
    }
    progress("deleting packs");
    for (const auto& [id, p] : m_packs) {
        if (p.fate != Fate::remove && p.fate != Fate::repack) continue;
        TRY(check_lock());
        TRY(remove_object(pack_name(id)));
        m_report.bytes_deleted += p.size;
        if (p.fate == Fate::remove) m_report.packs_deleted++;
    }
    if (rewrite) TRY(m_repo.load_index());
    finish_counts();
    return m_report;
}

}  // namespace

Result<Report> prune(Repository& repository, const Options& options) {
    Pruner pruner(repository, options);
    return pruner.run();
}

}  // namespace coffer::prune

// export_snapshot: the objects of one snapshot, repacked to hold only its records, into a
// backup file (archive.h).
#include <unordered_set>

#include "coffer/archive/archive.h"
#include "coffer/repo/meta.h"
#include "coffer/repo/tree.h"

namespace coffer::archive {

using repo::ChunkType;
using repo::PackEntry;

namespace {

// Every chunk the snapshot references: its root tree, and through the refs chunks every
// directory's tree, refs and data chunks.
Result<std::unordered_set<Id, IdHash>> chunks_of(repo::Repository& repository,
                                                 const repo::Snapshot& s) {
    std::unordered_set<Id, IdHash> used{s.tree};
    std::vector<Id> stack{s.refs};
    while (!stack.empty()) {
        Id refs_id = stack.back();
        stack.pop_back();
        if (!used.insert(refs_id).second) continue;
        TRY_ASSIGN(Bytes bytes, repository.load_chunk(refs_id, ChunkType::refs));
        TRY_ASSIGN(repo::Refs refs, repo::decode_refs(bytes, refs_id.short_hex()));
        used.insert(refs.tree);
        used.insert(refs.data.begin(), refs.data.end());
        stack.insert(stack.end(), refs.children.begin(), refs.children.end());
    }
    return used;
}

Status copy_object(store::Store& from, ArchiveWriter& to, const std::string& name) {
    TRY_ASSIGN(Bytes bytes, from.get(name));
    return to.add(name, bytes);
}

}  // namespace

Result<ExportStats> export_snapshot(repo::Repository& repository, const repo::Snapshot& snapshot,
                                    const std::string& path) {
    store::Store& store = repository.store();
    const repo::KeyRing& keys = repository.keys();
    TRY(repository.ensure_index());
    TRY_ASSIGN(auto used, chunks_of(repository, snapshot));

    // Group the records by the pack that holds them, in index order.
    const repo::Index& index = repository.index();
    std::map<uint32_t, std::vector<PackEntry>> by_pack;
    for (const Id& id : used) {
        const repo::Location* loc = index.find(id);
        if (!loc)
            return integrity_error("snapshot " + snapshot.id.short_hex() + " references chunk " +
                                   id.short_hex() +
                                   " which is not in the index: run 'coffer verify'");
        by_pack[loc->pack].push_back(index.entry_of(id, *loc));
    }

    TRY_ASSIGN(auto out, ArchiveWriter::create(path, repository.config().id, snapshot.id));
    TRY(copy_object(store, *out, std::string(repo::k_config_name)));
    const std::string key = "keys/" + to_hex(keys.key_id);
    TRY(copy_object(store, *out, key + ".pub"));
    TRY(copy_object(store, *out, key + ".secrets"));
    if (store.stat(key + ".revoked").ok()) TRY(copy_object(store, *out, key + ".revoked"));

    ExportStats stats;
    std::vector<repo::IndexedPack> packs;
    for (auto& [number, entries] : by_pack) {
        const Id& pack = index.pack_id(number);
        TRY_ASSIGN(Bytes bytes, store.get(repo::pack_name(pack)));
        TRY_ASSIGN(repo::FinishedPack fresh,
                   repo::repack_entries(keys, pack, bytes, entries, "export"));
        TRY(out->add(repo::pack_name(fresh.id), fresh.bytes));
        stats.chunks += fresh.entries.size();
        ++stats.packs;
        packs.push_back({fresh.id, std::move(fresh.entries)});
    }
    TRY_ASSIGN(Bytes sealed,
               repo::seal_meta(keys, repo::MetaType::index, repo::encode_index_payload(packs)));
    TRY(out->add(repo::index_name(crypto::sha256(sealed)), sealed));
    // The manifest as it is, signature and all (its previous snapshots are not in the file).
    TRY_ASSIGN(Bytes manifest, store.get(repo::snapshot_name(snapshot.id)));
    if (crypto::sha256(manifest) != snapshot.id)
        return integrity_error("snapshot " + snapshot.id.short_hex() + " does not match its name");
    TRY(out->add(repo::snapshot_name(snapshot.id), manifest));
    TRY(out->commit());
    stats.bytes = out->bytes_written();
    return stats;
}

}  // namespace coffer::archive

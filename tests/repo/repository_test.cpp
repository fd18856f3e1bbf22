// Repository on a MemStore (and once on a LocalStore): init/open, chunk storage and dedup,
// flush ordering, reading back with every check, snapshots and fault injection.
#include "coffer/repo/repository.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "coffer/repo/meta.h"
#include "coffer/store/fault/fault_store.h"
#include "coffer/store/local/local_store.h"
#include "coffer/store/mem/mem_store.h"
#include "repo/repo_test_util.h"
#include "store/temp_dir.h"

namespace coffer::repo {
namespace {

using testing::contains;
using testing::pseudo_random;

// Forwards to another store and records the names of successful puts, in order.
class RecordingStore final : public store::Store {
public:
    explicit RecordingStore(std::shared_ptr<store::Store> inner) : m_inner(std::move(inner)) {}
    Status put(std::string_view name, ByteView data, store::PutMode mode) override {
        Status st = m_inner->put(name, data, mode);
        std::lock_guard lock(m_mu);
        if (st.ok()) m_puts.emplace_back(name);
        return st;
    }
    using Store::put;
    Result<Bytes> get(std::string_view name) override { return m_inner->get(name); }
    Result<Bytes> get_range(std::string_view name, uint64_t offset, uint64_t length) override {
        return m_inner->get_range(name, offset, length);
    }
    Result<store::ObjectInfo> stat(std::string_view name) override { return m_inner->stat(name); }
    Result<std::vector<store::ObjectInfo>> list(std::string_view prefix) override {
        return m_inner->list(prefix);
    }
    Status remove(std::string_view name) override { return m_inner->remove(name); }
    store::Capabilities capabilities() const override { return m_inner->capabilities(); }
    std::string location() const override { return m_inner->location(); }
    std::vector<std::string> puts() {
        std::lock_guard lock(m_mu);
        return m_puts;
    }

private:
    std::shared_ptr<store::Store> m_inner;
    std::mutex m_mu;
    std::vector<std::string> m_puts;
};

InitOptions small_options() {
    InitOptions o;
    o.host = "test-host";
    o.chunk_avg_size = 1 << 16;
    o.pack_size = 1 << 20;
    return o;
}

Repository::Created init_repo(std::shared_ptr<store::Store> s) {
    auto c = Repository::init(std::move(s), small_options());
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    if (!c.ok()) std::abort();
    return std::move(c).value();
}

std::unique_ptr<Repository> open_repo(std::shared_ptr<store::Store> s, const HostKey* host,
                                      const RecoveryKey* recovery) {
    auto r = Repository::open(std::move(s), host, recovery);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? std::move(r).value() : nullptr;
}

std::vector<std::string> names_under(store::Store& s, std::string_view prefix) {
    auto l = s.list(prefix);
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    std::vector<std::string> out;
    if (l.ok())
        for (const auto& o : *l) out.push_back(o.name);
    std::sort(out.begin(), out.end());
    return out;
}

Id store_data(Repository& repo, const Bytes& plain) {
    Id id = repo.keys().chunk_id(ChunkType::data, plain);
    auto r = repo.store_chunk(ChunkType::data, id, plain);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return id;
}

class RepositoryTest : public ::testing::Test {
protected:
    std::shared_ptr<store::MemStore> mem = std::make_shared<store::MemStore>();
};

TEST_F(RepositoryTest, InitThenOpenWithHostKey) {
    auto created = init_repo(mem);
    ASSERT_NE(created.repository, nullptr);
    EXPECT_TRUE(created.repository->keys().can_read_data());
    EXPECT_TRUE(mem->get("config").ok());
    std::string key = "keys/" + created.host_key.key_id_hex();
    EXPECT_EQ(names_under(*mem, "keys/"),
              (std::vector<std::string>{key + ".pub", key + ".secrets"}));
    auto registry = Repository::load_registry(*mem);
    ASSERT_TRUE(registry.ok()) << registry.status().to_string();
    ASSERT_EQ(registry->entries.size(), 1u);
    const RegistryEntry& entry = registry->entries.begin()->second;
    EXPECT_EQ(entry.host, "test-host");
    EXPECT_EQ(entry.signing_public_key, created.host_key.signing_public_key);
    EXPECT_TRUE(entry.trusted()) << entry.problem;
    EXPECT_EQ(entry.status, "active");

    auto repo = open_repo(mem, &created.host_key, nullptr);
    ASSERT_NE(repo, nullptr);
    EXPECT_FALSE(repo->keys().can_read_data());
    EXPECT_EQ(repo->config().id, created.repository->config().id);
    EXPECT_EQ(repo->config().chunk_avg_size, 1u << 16);
    EXPECT_EQ(repo->chunker().params().avg_size, 1u << 16);

    auto other = init_repo(std::make_shared<store::MemStore>());
    auto wrong = Repository::open(mem, &other.host_key, nullptr);
    EXPECT_EQ(wrong.status().code(), Code::wrong_key) << wrong.status().to_string();
    auto none = Repository::open(mem, nullptr, nullptr);
    EXPECT_EQ(none.status().code(), Code::invalid_argument);
}

TEST_F(RepositoryTest, InitTwiceAndOpenEmptyStoreFail) {
    auto empty = Repository::open(mem, nullptr, nullptr);
    EXPECT_EQ(empty.status().code(), Code::not_found);
    EXPECT_TRUE(contains(empty.status().message(), "not a coffer repository"));
    auto created = init_repo(mem);
    auto again = Repository::init(mem, small_options());
    EXPECT_EQ(again.status().code(), Code::already_exists) << again.status().to_string();
    EXPECT_EQ(names_under(*mem, "keys/").size(), 2u);  // nothing added
}

TEST_F(RepositoryTest, InvalidInitOptionsWriteNothing) {
    for (auto [avg, pack] : {std::pair<uint32_t, uint32_t>{1000, 1 << 20},  // avg not a power of 2
                             std::pair<uint32_t, uint32_t>{1 << 10, 1 << 20},  // avg too small
                             std::pair<uint32_t, uint32_t>{1 << 16, 4096},     // pack too small
                             std::pair<uint32_t, uint32_t>{1 << 16, 2u << 30}}) {
        InitOptions o = small_options();
        o.chunk_avg_size = avg;
        o.pack_size = pack;
        auto r = Repository::init(mem, o);
        EXPECT_EQ(r.status().code(), Code::invalid_argument) << avg << " " << pack;
        EXPECT_TRUE(names_under(*mem, "").empty()) << avg << " " << pack;
    }
    // Still a fresh store: a valid init works.
    auto created = init_repo(mem);
    EXPECT_NE(created.repository, nullptr);
}

TEST_F(RepositoryTest, StoreChunkDeduplicates) {
    auto created = init_repo(mem);
    Repository& repo = *created.repository;
    Bytes plain = pseudo_random(5000, 1);
    Id id = repo.keys().chunk_id(ChunkType::data, plain);
    EXPECT_FALSE(repo.has_chunk(id));
    auto first = repo.store_chunk(ChunkType::data, id, plain);
    ASSERT_TRUE(first.ok());
    EXPECT_TRUE(*first);
    EXPECT_TRUE(repo.has_chunk(id));  // pending
    auto second = repo.store_chunk(ChunkType::data, id, plain);
    ASSERT_TRUE(second.ok());
    EXPECT_FALSE(*second);
    ASSERT_TRUE(repo.flush().ok());
    auto third = repo.store_chunk(ChunkType::data, id, plain);  // now indexed
    ASSERT_TRUE(third.ok());
    EXPECT_FALSE(*third);
    EXPECT_EQ(repo.write_stats().chunks_added, 1u);
    EXPECT_EQ(repo.write_stats().data_added, 5000u);
    EXPECT_EQ(repo.write_stats().packs_written, 1u);
}

TEST_F(RepositoryTest, ConcurrentStoresOfOneChunkStoreItOnce) {
    auto created = init_repo(mem);
    Repository& repo = *created.repository;
    Bytes shared = pseudo_random(40000, 2);
    Id shared_id = repo.keys().chunk_id(ChunkType::data, shared);
    std::atomic<int> ready{0}, stored{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            Bytes own = pseudo_random(1000, 100 + t);
            ready++;
            while (ready.load() < 8) std::this_thread::yield();
            auto r = repo.store_chunk(ChunkType::data, shared_id, shared);
            if (!r.ok()) failed++;
            if (r.ok() && *r) stored++;
            Id own_id = repo.keys().chunk_id(ChunkType::data, own);
            if (!repo.store_chunk(ChunkType::data, own_id, own).ok()) failed++;
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(stored.load(), 1);
    ASSERT_TRUE(repo.flush().ok());
    EXPECT_EQ(repo.write_stats().chunks_added, 9u);

    // Exactly one record of the shared chunk exists across all packs.
    int records = 0;
    for (const auto& name : names_under(*mem, "packs/")) {
        auto bytes = mem->get(name);
        ASSERT_TRUE(bytes.ok());
        auto entries = read_pack_trailer(repo.keys(), *bytes, name);
        ASSERT_TRUE(entries.ok()) << entries.status().to_string();
        for (const auto& e : *entries) records += e.id == shared_id;
    }
    EXPECT_EQ(records, 1);
    auto reopened = open_repo(mem, &created.host_key, &created.recovery_key);
    ASSERT_TRUE(reopened->load_index().ok());
    EXPECT_EQ(reopened->index().size(), 9u);
    auto back = reopened->load_chunk(shared_id, ChunkType::data);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(*back, shared);
}

TEST_F(RepositoryTest, FlushWritesPacksThenAnIndex) {
    auto recording = std::make_shared<RecordingStore>(mem);
    auto created = init_repo(recording);
    Repository& repo = *created.repository;
    size_t before = recording->puts().size();
    std::vector<Id> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(store_data(repo, pseudo_random(128 * 1024, i)));
    std::vector<std::string> during = recording->puts();
    // Packs of 1 MiB fill up and are uploaded by store_chunk itself; no index yet.
    EXPECT_GE(during.size() - before, 2u);
    for (size_t i = before; i < during.size(); ++i)
        EXPECT_TRUE(during[i].starts_with("packs/")) << during[i];
    ASSERT_TRUE(repo.flush().ok());
    std::vector<std::string> puts = recording->puts();
    ASSERT_GT(puts.size(), during.size());
    EXPECT_TRUE(puts.back().starts_with("index/")) << puts.back();
    size_t packs = 0;
    for (size_t i = before; i + 1 < puts.size(); ++i) {
        EXPECT_TRUE(puts[i].starts_with("packs/")) << puts[i];
        packs++;
    }
    EXPECT_EQ(repo.write_stats().packs_written, packs);
    EXPECT_EQ(names_under(*mem, "index/").size(), 1u);
    EXPECT_EQ(names_under(*mem, "packs/").size(), packs);
    // Every object is named by the SHA-256 of its bytes.
    for (const auto& name : puts) {
        if (!name.starts_with("packs/") && !name.starts_with("index/")) continue;
        auto bytes = mem->get(name);
        ASSERT_TRUE(bytes.ok());
        EXPECT_EQ(crypto::sha256(*bytes).hex(), name.substr(name.rfind('/') + 1));
    }
    // A flush with nothing new writes nothing.
    ASSERT_TRUE(repo.flush().ok());
    EXPECT_EQ(recording->puts().size(), puts.size());

    auto reopened = open_repo(mem, &created.host_key, &created.recovery_key);
    for (const Id& id : ids) EXPECT_FALSE(reopened->has_chunk(id));
    ASSERT_TRUE(reopened->load_index().ok());
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(reopened->has_chunk(ids[i]));
        auto back = reopened->load_chunk(ids[i], ChunkType::data);
        ASSERT_TRUE(back.ok()) << back.status().to_string();
        EXPECT_EQ(*back, pseudo_random(128 * 1024, i));
    }
}

TEST_F(RepositoryTest, LoadChunkChecksEverything) {
    auto created = init_repo(mem);
    Repository& repo = *created.repository;
    Bytes plain = pseudo_random(3000, 9);
    Id id = store_data(repo, plain);
    Bytes tree_plain = to_bytes("not really a tree, but a tree-typed chunk");
    Id tree_id = repo.keys().chunk_id(ChunkType::tree, tree_plain);
    ASSERT_TRUE(repo.store_chunk(ChunkType::tree, tree_id, tree_plain).ok());
    Bytes refs_plain = to_bytes("refs-typed chunk");
    Id refs_id = repo.keys().chunk_id(ChunkType::refs, refs_plain);
    ASSERT_TRUE(repo.store_chunk(ChunkType::refs, refs_id, refs_plain).ok());
    // A chunk stored under an ID that is not its MAC: only the final ID check can tell.
    Bytes liar = to_bytes("these bytes do not hash to the id they are stored under");
    Id liar_id = Id::from(pseudo_random(32, 77));
    ASSERT_TRUE(repo.store_chunk(ChunkType::data, liar_id, liar).ok());
    ASSERT_TRUE(repo.flush().ok());

    auto fresh = open_repo(mem, &created.host_key, &created.recovery_key);
    ASSERT_TRUE(fresh->load_index().ok());
    auto ok = fresh->load_chunk(id, ChunkType::data);
    ASSERT_TRUE(ok.ok()) << ok.status().to_string();
    EXPECT_EQ(*ok, plain);
    EXPECT_TRUE(fresh->load_chunk(tree_id, ChunkType::tree).ok());
    EXPECT_EQ(fresh->load_chunk(id, ChunkType::tree).status().code(), Code::corruption);
    EXPECT_EQ(fresh->load_chunk(Id::from(pseudo_random(32, 5)), ChunkType::data).status().code(),
              Code::not_found);
    auto lie = fresh->load_chunk(liar_id, ChunkType::data);
    EXPECT_EQ(lie.status().code(), Code::integrity);
    EXPECT_TRUE(contains(lie.status().message(), "does not match its ID"))
        << lie.status().message();

    // The host key alone reads refs chunks but no data or tree chunks.
    auto host_only = open_repo(mem, &created.host_key, nullptr);
    ASSERT_TRUE(host_only->load_index().ok());
    auto refs = host_only->load_chunk(refs_id, ChunkType::refs);
    ASSERT_TRUE(refs.ok()) << refs.status().to_string();
    EXPECT_EQ(*refs, refs_plain);
    EXPECT_EQ(host_only->load_chunk(id, ChunkType::data).status().code(), Code::wrong_key);
    EXPECT_EQ(host_only->load_chunk(tree_id, ChunkType::tree).status().code(), Code::wrong_key);

    // Tamper with one byte of the data chunk's record through the store.
    const Location* loc = fresh->index().find(id);
    ASSERT_NE(loc, nullptr);
    std::string pack = pack_name(fresh->index().pack_id(loc->pack));
    auto bytes = mem->get(pack);
    ASSERT_TRUE(bytes.ok());
    (*bytes)[loc->offset + loc->length / 2] ^= 0x04;
    ASSERT_TRUE(mem->put(pack, *bytes).ok());
    auto tampered = open_repo(mem, &created.host_key, &created.recovery_key);
    ASSERT_TRUE(tampered->load_index().ok());
    auto bad = tampered->load_chunk(id, ChunkType::data);
    EXPECT_EQ(bad.status().code(), Code::integrity) << bad.status().to_string();
    EXPECT_TRUE(tampered->load_chunk(tree_id, ChunkType::tree).ok());  // other records intact
}

Snapshot make_snapshot(int64_t time_ns, const std::string& host = "h") {
    Snapshot s;
    s.time_ns = time_ns;
    s.hostname = host;
    s.paths = {"/data"};
    s.tree = Id::from(pseudo_random(32, static_cast<uint64_t>(time_ns)));
    s.refs = Id::from(pseudo_random(32, static_cast<uint64_t>(time_ns) + 1));
    return s;
}

TEST_F(RepositoryTest, SnapshotsAreSequencedAndFound) {
    auto created = init_repo(mem);
    Repository& repo = *created.repository;
    EXPECT_EQ(repo.find_snapshot("latest").status().code(), Code::not_found);
    std::vector<Id> ids;
    for (int i = 1; i <= 3; ++i) {
        Snapshot s = make_snapshot(1000 * i);
        auto id = repo.save_snapshot(s);
        ASSERT_TRUE(id.ok()) << id.status().to_string();
        EXPECT_EQ(s.id, *id);
        EXPECT_EQ(s.sequence, uint64_t(i));
        EXPECT_EQ(s.previous, i == 1 ? "" : ids.back().hex());
        EXPECT_EQ(s.key_id, created.host_key.key_id_hex());
        ids.push_back(*id);
    }
    auto all = repo.list_snapshots();
    ASSERT_TRUE(all.ok()) << all.status().to_string();
    ASSERT_EQ(all->size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ((*all)[i].id, ids[i]);
        EXPECT_EQ((*all)[i].sequence, i + 1);
        EXPECT_EQ((*all)[i].paths, std::vector<std::string>{"/data"});
    }
    auto latest = repo.find_snapshot("latest");
    ASSERT_TRUE(latest.ok());
    EXPECT_EQ(latest->id, ids[2]);
    for (const Id& id : ids) {
        auto full = repo.find_snapshot(id.hex());
        ASSERT_TRUE(full.ok()) << full.status().to_string();
        EXPECT_EQ(full->id, id);
        // The shortest prefix (>= 4 digits) that no other snapshot shares.
        size_t len = 4;
        auto shared = [&](size_t n) {
            for (const Id& o : ids)
                if (o != id && o.hex().compare(0, n, id.hex(), 0, n) == 0) return true;
            return false;
        };
        while (shared(len)) ++len;
        for (std::string prefix : {id.hex().substr(0, len), id.hex().substr(0, len + 1)}) {
            auto found = repo.find_snapshot(prefix);
            ASSERT_TRUE(found.ok()) << prefix << ": " << found.status().to_string();
            EXPECT_EQ(found->id, id);
        }
    }
    // An id that is not there: a 4-digit prefix no snapshot has, then any digits.
    std::string missing;
    for (int p = 0; p < 0x10000 && missing.empty(); ++p) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "%04x", p);
        bool used = false;
        for (const Id& id : ids) used |= id.hex().starts_with(prefix);
        if (!used) missing = prefix + ids[0].hex().substr(4);
    }
    EXPECT_EQ(repo.find_snapshot(missing).status().code(), Code::not_found);
    EXPECT_EQ(repo.find_snapshot(missing.substr(0, 5)).status().code(), Code::not_found);
    for (const std::string& bad :
         std::vector<std::string>{"", "abc", "xyzw", "latest!", "12 4", missing + "00"})
        EXPECT_EQ(repo.find_snapshot(bad).status().code(), Code::invalid_argument) << bad;

    // Another repository object on the same store continues the chain.
    auto second = open_repo(mem, &created.host_key, nullptr);
    Snapshot next = make_snapshot(4000);
    ASSERT_TRUE(second->save_snapshot(next).ok());
    EXPECT_EQ(next.sequence, 4u);
    EXPECT_EQ(next.previous, ids[2].hex());
}

TEST_F(RepositoryTest, AmbiguousPrefixIsRejected) {
    auto created = init_repo(mem);
    Repository& repo = *created.repository;
    // Seal the same manifest until two objects share their first 4 hex digits (~300 tries).
    std::string payload = make_snapshot(5).to_json();
    std::map<std::string, Bytes> by_prefix;
    std::pair<Bytes, Bytes> twins;
    for (int i = 0; i < 100000 && twins.first.empty(); ++i) {
        auto sealed = seal_meta(repo.keys(), MetaType::snapshot, as_bytes(payload));
        ASSERT_TRUE(sealed.ok());
        std::string prefix = crypto::sha256(*sealed).hex().substr(0, 4);
        auto [it, inserted] = by_prefix.emplace(prefix, *sealed);
        if (!inserted) twins = {it->second, *sealed};
    }
    ASSERT_FALSE(twins.first.empty());
    Id a = crypto::sha256(twins.first), b = crypto::sha256(twins.second);
    ASSERT_TRUE(mem->put(snapshot_name(a), twins.first).ok());
    ASSERT_TRUE(mem->put(snapshot_name(b), twins.second).ok());
    auto r = repo.find_snapshot(a.hex().substr(0, 4));
    EXPECT_EQ(r.status().code(), Code::invalid_argument);
    EXPECT_TRUE(contains(r.status().message(), "ambiguous")) << r.status().to_string();
    auto exact_a = repo.find_snapshot(a.hex());
    ASSERT_TRUE(exact_a.ok());
    EXPECT_EQ(exact_a->id, a);
    auto exact_b = repo.find_snapshot(b.hex());
    ASSERT_TRUE(exact_b.ok());
    EXPECT_EQ(exact_b->id, b);
}

TEST_F(RepositoryTest, OpenWithRecoveryKeyOnly) {
    auto created = init_repo(mem);
    Bytes plain = pseudo_random(70000, 4);
    Id id = store_data(*created.repository, plain);
    ASSERT_TRUE(created.repository->flush().ok());
    Snapshot s = make_snapshot(10);
    ASSERT_TRUE(created.repository->save_snapshot(s).ok());

    auto repo = open_repo(mem, nullptr, &created.recovery_key);
    ASSERT_NE(repo, nullptr);
    EXPECT_TRUE(repo->keys().can_read_data());
    EXPECT_EQ(repo->keys().key_id, created.host_key.key_id);
    ASSERT_TRUE(repo->load_index().ok());
    auto back = repo->load_chunk(id, ChunkType::data);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(*back, plain);
    auto latest = repo->find_snapshot("latest");
    ASSERT_TRUE(latest.ok()) << latest.status().to_string();
    EXPECT_EQ(latest->id, s.id);
    auto by_key_id =
        Repository::open(mem, nullptr, &created.recovery_key, created.host_key.key_id_hex());
    EXPECT_TRUE(by_key_id.ok()) << by_key_id.status().to_string();
}

TEST_F(RepositoryTest, WrongRecoveryKeyIsRefused) {
    auto created = init_repo(mem);
    RecoveryKey wrong = RecoveryKey::generate();
    auto alone = Repository::open(mem, nullptr, &wrong);
    EXPECT_EQ(alone.status().code(), Code::wrong_key) << alone.status().to_string();
    auto with_host = Repository::open(mem, &created.host_key, &wrong);
    EXPECT_EQ(with_host.status().code(), Code::wrong_key) << with_host.status().to_string();
}

// Fails the Nth put after the repository exists, for every N a small "backup" makes: the
// caller sees an error (no crash), writes no snapshot, and whatever reached the store is
// consistent: every indexed chunk can be read back.
TEST_F(RepositoryTest, FailedPutsSurfaceAsErrors) {
    auto backup = [](Repository& repo) -> Status {
        for (int i = 0; i < 24; ++i) {
            Bytes plain = pseudo_random(128 * 1024, 1000 + i);
            Id id = repo.keys().chunk_id(ChunkType::data, plain);
            TRY(repo.store_chunk(ChunkType::data, id, plain).status());
        }
        TRY(repo.flush());
        Snapshot s = make_snapshot(1);
        return repo.save_snapshot(s).status();
    };
    // Fault-free run: how many puts does it make?
    uint64_t total_puts;
    {
        auto fault = std::make_shared<store::FaultStore>(std::make_shared<store::MemStore>());
        auto created = init_repo(fault);
        uint64_t before = fault->mutating_calls();
        ASSERT_TRUE(backup(*created.repository).ok());
        total_puts = fault->mutating_calls() - before;
    }
    ASSERT_GE(total_puts, 5u);  // >= 3 packs, an index and a snapshot
    for (uint64_t n = 1; n <= total_puts; ++n) {
        auto inner = std::make_shared<store::MemStore>();
        auto fault = std::make_shared<store::FaultStore>(inner);
        auto created = init_repo(fault);
        fault->add_rule({.op = store::Op::put, .nth = n});
        Status st = backup(*created.repository);
        EXPECT_FALSE(st.ok()) << "put " << n;
        EXPECT_EQ(st.code(), Code::io) << st.to_string();
        EXPECT_TRUE(names_under(*inner, "snapshots/").empty()) << n;
        // What did reach the store is consistent.
        auto reopened = open_repo(inner, &created.host_key, &created.recovery_key);
        ASSERT_TRUE(reopened->load_index().ok()) << n;
        for (const auto& [id, loc] : reopened->index().chunks())
            EXPECT_TRUE(reopened->load_chunk(id, loc.type).ok()) << "put " << n;
        EXPECT_TRUE(reopened->list_snapshots().ok());
    }
}

// After a failed upload the same Repository object must not treat the lost chunks as stored.
TEST_F(RepositoryTest, ChunksOfAFailedUploadAreStoredAgain) {
    auto fault = std::make_shared<store::FaultStore>(mem);
    auto created = init_repo(fault);
    Repository& repo = *created.repository;
    fault->add_rule({.op = store::Op::put, .prefix = "packs/", .nth = 1});
    std::vector<Bytes> plains;
    Status failed;
    for (int i = 0; i < 16 && failed.ok(); ++i) {
        plains.push_back(pseudo_random(128 * 1024, 500 + i));
        Id id = repo.keys().chunk_id(ChunkType::data, plains.back());
        failed = repo.store_chunk(ChunkType::data, id, plains.back()).status();
    }
    ASSERT_FALSE(failed.ok());
    fault->clear_rules();
    for (const Bytes& plain : plains) {
        Id id = repo.keys().chunk_id(ChunkType::data, plain);
        EXPECT_FALSE(repo.has_chunk(id));
        auto again = repo.store_chunk(ChunkType::data, id, plain);
        ASSERT_TRUE(again.ok()) << again.status().to_string();
        EXPECT_TRUE(*again);
    }
    ASSERT_TRUE(repo.flush().ok());
    auto fresh = open_repo(mem, &created.host_key, &created.recovery_key);
    ASSERT_TRUE(fresh->load_index().ok());
    for (const Bytes& plain : plains) {
        auto back =
            fresh->load_chunk(fresh->keys().chunk_id(ChunkType::data, plain), ChunkType::data);
        ASSERT_TRUE(back.ok()) << back.status().to_string();
        EXPECT_EQ(*back, plain);
    }
}

TEST(RepositoryLocal, InitWriteReopenOnLocalStore) {
    store::testing::TempDir tmp;
    std::string root = tmp.path() + "/repo";
    auto local = store::LocalStore::create(root);
    ASSERT_TRUE(local.ok()) << local.status().to_string();
    auto created = init_repo(std::shared_ptr<store::Store>(std::move(local).value()));
    Bytes plain = pseudo_random(100000, 8);
    Id id = store_data(*created.repository, plain);
    ASSERT_TRUE(created.repository->flush().ok());
    Snapshot s = make_snapshot(77);
    ASSERT_TRUE(created.repository->save_snapshot(s).ok());
    created.repository.reset();

    namespace fs = std::filesystem;
    EXPECT_TRUE(fs::is_regular_file(root + "/config"));
    EXPECT_TRUE(fs::is_regular_file(root + "/" + snapshot_name(s.id)));
    EXPECT_EQ(std::distance(fs::directory_iterator(root + "/index"), fs::directory_iterator()), 1);

    auto reopened_store = store::LocalStore::open(root);
    ASSERT_TRUE(reopened_store.ok());
    std::shared_ptr<store::Store> st = std::move(reopened_store).value();
    auto again = Repository::init(st, small_options());
    EXPECT_EQ(again.status().code(), Code::already_exists);
    auto repo = open_repo(st, nullptr, &created.recovery_key);
    ASSERT_NE(repo, nullptr);
    ASSERT_TRUE(repo->load_index().ok());
    auto back = repo->load_chunk(id, ChunkType::data);
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(*back, plain);
    auto latest = repo->find_snapshot("latest");
    ASSERT_TRUE(latest.ok());
    EXPECT_EQ(latest->id, s.id);
    EXPECT_EQ(latest->sequence, 1u);
}

}  // namespace
}  // namespace coffer::repo

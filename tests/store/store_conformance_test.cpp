// The Store contract (store.h), run against every driver. To add a driver, add a factory to
// kStoreFactories at the bottom: it returns the store plus whatever must outlive it (a temp
// directory, a test bucket) and is torn down after the test.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "coffer/store/local/local_store.h"
#include "coffer/store/mem/mem_store.h"
#include "coffer/store/s3/s3_store.h"
#include "coffer/store/store.h"
#include "s3/s3_test_env.h"
#include "store/temp_dir.h"

namespace coffer::store {
namespace {

using testing::TempDir;

// A store under test. `resources` is destroyed after `store` (members are destroyed in reverse
// order), so a temp directory outlives the store living in it.
struct StoreUnderTest {
    std::shared_ptr<void> resources;
    std::shared_ptr<Store> store;
};

struct StoreFactory {
    std::string name;  // GoogleTest parameter name: [A-Za-z0-9_]
    std::function<StoreUnderTest()> make;

    friend void PrintTo(const StoreFactory& f, std::ostream* os) { *os << f.name; }
};

StoreUnderTest make_local_store() {
    auto dir = std::make_shared<TempDir>();
    auto opened = LocalStore::open(dir->path());
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    if (!opened.ok()) return {dir, nullptr};
    return {dir, std::shared_ptr<Store>(std::move(opened).value())};
}

StoreUnderTest make_mem_store() {
    return {nullptr, std::make_shared<MemStore>()};
}

// A fresh bucket on the test S3 server per test, with the store under a prefix so that keys
// outside it (a marker object) must not leak into listings.
StoreUnderTest make_s3_store() {
    std::string endpoint = s3::testing::endpoint();
    if (endpoint.empty()) return {};
    auto client = s3::Client::create(s3::testing::options(endpoint));
    EXPECT_TRUE(client.ok()) << client.status().to_string();
    if (!client.ok()) return {};
    std::shared_ptr<s3::Client> shared(std::move(client).value());
    s3::Location loc{endpoint, s3::testing::fresh_bucket(), "repo/under test"};
    Status st = shared->create_bucket(loc.bucket);
    EXPECT_TRUE(st.ok()) << st.to_string();
    if (!st.ok()) return {};
    st = shared->put(loc.bucket, "outside-the-prefix", as_bytes("x"));
    EXPECT_TRUE(st.ok()) << st.to_string();
    return {nullptr, std::make_shared<S3Store>(shared, loc)};
}

Bytes pattern(size_t size, uint32_t seed) {
    std::mt19937 rng(seed);
    Bytes out(size);
    for (size_t i = 0; i < size; i += 4) {
        uint32_t v = rng();
        for (size_t j = i; j < std::min(size, i + 4); ++j, v >>= 8)
            out[j] = static_cast<uint8_t>(v);
    }
    return out;
}

std::vector<std::string> names_of(const std::vector<ObjectInfo>& infos) {
    std::vector<std::string> names;
    for (const auto& info : infos) names.push_back(info.name);
    std::sort(names.begin(), names.end());
    return names;
}

// A 64-hex-digit name like a pack ID, distinct per seed.
std::string hex_name(uint32_t seed) {
    return to_hex(pattern(32, seed));
}

class StoreConformance : public ::testing::TestWithParam<StoreFactory> {
protected:
    void SetUp() override {
        m_sut = GetParam().make();
        if (IsSkipped()) return;  // a driver whose server is not available
        ASSERT_NE(m_sut.store, nullptr);
    }
    Store& store() { return *m_sut.store; }

    void put_ok(std::string_view name, std::string_view content,
                PutMode mode = PutMode::overwrite) {
        Status st = store().put(name, as_bytes(content), mode);
        ASSERT_TRUE(st.ok()) << name << ": " << st.to_string();
    }
    std::string get_str(std::string_view name) {
        auto r = store().get(name);
        EXPECT_TRUE(r.ok()) << name << ": " << r.status().to_string();
        return r.ok() ? std::string(as_chars(*r)) : std::string("<error>");
    }
    std::vector<std::string> list_names(std::string_view prefix) {
        auto r = store().list(prefix);
        EXPECT_TRUE(r.ok()) << "list " << prefix << ": " << r.status().to_string();
        return r.ok() ? names_of(*r) : std::vector<std::string>{"<error>"};
    }

private:
    StoreUnderTest m_sut;
};

TEST_P(StoreConformance, PutGetRoundTrip) {
    put_ok("config", "hello world");
    EXPECT_EQ(get_str("config"), "hello world");
    put_ok("packs/ab/abcdef", "nested");
    EXPECT_EQ(get_str("packs/ab/abcdef"), "nested");
    EXPECT_EQ(get_str("config"), "hello world");
}

TEST_P(StoreConformance, BinaryContent) {
    Bytes data = pattern(4096, 7);
    data[0] = 0;
    data[100] = 0;
    ASSERT_TRUE(store().put("bin", data).ok());
    auto got = store().get("bin");
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, data);
}

TEST_P(StoreConformance, EmptyObject) {
    put_ok("index/empty", "");
    auto got = store().get("index/empty");
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_TRUE(got->empty());
    auto info = store().stat("index/empty");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->size, 0u);
    auto range = store().get_range("index/empty", 0, 0);
    ASSERT_TRUE(range.ok()) << range.status().to_string();
    EXPECT_TRUE(range->empty());
    EXPECT_EQ(store().get_range("index/empty", 0, 1).status().code(), Code::corruption);
    EXPECT_EQ(list_names("index/"), std::vector<std::string>{"index/empty"});
}

TEST_P(StoreConformance, GetRange) {
    put_ok("obj", "0123456789");
    auto mid = store().get_range("obj", 3, 4);
    ASSERT_TRUE(mid.ok()) << mid.status().to_string();
    EXPECT_EQ(as_chars(*mid), "3456");
    auto whole = store().get_range("obj", 0, 10);
    ASSERT_TRUE(whole.ok());
    EXPECT_EQ(as_chars(*whole), "0123456789");
    auto end = store().get_range("obj", 7, 3);
    ASSERT_TRUE(end.ok());
    EXPECT_EQ(as_chars(*end), "789");
    auto at_end = store().get_range("obj", 10, 0);
    ASSERT_TRUE(at_end.ok());
    EXPECT_TRUE(at_end->empty());

    // A short read is never success.
    EXPECT_EQ(store().get_range("obj", 7, 4).status().code(), Code::corruption);
    EXPECT_EQ(store().get_range("obj", 0, 11).status().code(), Code::corruption);
    EXPECT_EQ(store().get_range("obj", 11, 0).status().code(), Code::corruption);
    EXPECT_EQ(store().get_range("obj", 20, 1).status().code(), Code::corruption);
    EXPECT_EQ(store().get_range("obj", 5, UINT64_MAX).status().code(), Code::corruption);
    EXPECT_EQ(store().get_range("obj", UINT64_MAX, 2).status().code(), Code::corruption);
}

TEST_P(StoreConformance, Stat) {
    put_ok("packs/00/0011", "12345");
    auto info = store().stat("packs/00/0011");
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    EXPECT_EQ(info->name, "packs/00/0011");
    EXPECT_EQ(info->size, 5u);
}

// Prune's grace period trusts list()'s modification times: they must be the store's real ones.
TEST_P(StoreConformance, ListGivesModificationTimes) {
    auto now = [] {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    };
    int64_t before = now();
    put_ok("packs/00/0022", "x");
    int64_t after = now();
    auto listed = store().list("packs/00/");
    ASSERT_TRUE(listed.ok()) << listed.status().to_string();
    ASSERT_EQ(listed->size(), 1u);
    // S3 servers keep whole seconds (or milliseconds) of their own clock on loopback.
    constexpr int64_t k_slack = 2'000'000'000;
    EXPECT_GE((*listed)[0].mtime_ns, before - k_slack);
    EXPECT_LE((*listed)[0].mtime_ns, after + k_slack);
}

TEST_P(StoreConformance, MissingObjectsAreNotFound) {
    put_ok("packs/ab/present", "x");
    for (std::string_view name : {"missing", "packs/ab/missing", "packs/cd/missing", "nodir/x"}) {
        SCOPED_TRACE(std::string(name));
        EXPECT_EQ(store().get(name).status().code(), Code::not_found);
        EXPECT_EQ(store().get_range(name, 0, 0).status().code(), Code::not_found);
        EXPECT_EQ(store().stat(name).status().code(), Code::not_found);
        EXPECT_EQ(store().remove(name).code(), Code::not_found);
    }
    // Below an object rather than below a directory.
    EXPECT_EQ(store().get("packs/ab/present/x").status().code(), Code::not_found);
    EXPECT_EQ(store().stat("packs/ab/present/x").status().code(), Code::not_found);
    EXPECT_EQ(store().remove("packs/ab/present/x").code(), Code::not_found);
}

TEST_P(StoreConformance, ErrorMessagesNameTheObject) {
    Status st = store().get("index/feedface").status();
    EXPECT_NE(st.message().find("index/feedface"), std::string::npos) << st.message();
    st = store().remove("index/feedface");
    EXPECT_NE(st.message().find("index/feedface"), std::string::npos) << st.message();
}

TEST_P(StoreConformance, OverwriteReplaces) {
    put_ok("config", "a much longer first version");
    put_ok("config", "short");
    EXPECT_EQ(get_str("config"), "short");
    auto info = store().stat("config");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->size, 5u);
    EXPECT_EQ(list_names(""), std::vector<std::string>{"config"});
}

TEST_P(StoreConformance, CreateOnly) {
    put_ok("keys/k1", "original", PutMode::create_only);
    Status st = store().put("keys/k1", as_bytes("replacement"), PutMode::create_only);
    EXPECT_EQ(st.code(), Code::already_exists) << st.to_string();
    EXPECT_NE(st.message().find("keys/k1"), std::string::npos) << st.message();
    EXPECT_EQ(get_str("keys/k1"), "original");
    EXPECT_EQ(list_names("keys/"), std::vector<std::string>{"keys/k1"});
    // Overwrite still works on it.
    put_ok("keys/k1", "replacement");
    EXPECT_EQ(get_str("keys/k1"), "replacement");
}

TEST_P(StoreConformance, ListPrefix) {
    const std::string a = "packs/ab/abcd" + std::string(60, '1');
    const std::string b = "packs/ab/abef" + std::string(60, '2');
    const std::string c = "packs/cd/cdef" + std::string(60, '3');
    put_ok("config", "c");
    put_ok("index/0001", "i1");
    put_ok("index/0002", "i2");
    put_ok(a, "aaa");
    put_ok(b, "bb");
    put_ok(c, "c");
    put_ok("packsx", "not under packs/");
    put_ok("snapshots/s1", "s");

    using V = std::vector<std::string>;
    EXPECT_EQ(list_names("packs/"), (V{a, b, c}));
    EXPECT_EQ(list_names("packs/ab/"), (V{a, b}));
    EXPECT_EQ(list_names("packs/ab/abcd"), (V{a}));
    EXPECT_EQ(list_names("packs/a"), (V{a, b}));
    EXPECT_EQ(list_names("packs"), (V{a, b, c, "packsx"}));
    EXPECT_EQ(list_names("index/"), (V{"index/0001", "index/0002"}));
    EXPECT_EQ(list_names("ind"), (V{"index/0001", "index/0002"}));
    EXPECT_EQ(list_names("config"), (V{"config"}));
    EXPECT_EQ(list_names(a), (V{a}));
    EXPECT_EQ(list_names(""),
              (V{"config", "index/0001", "index/0002", a, b, c, "packsx", "snapshots/s1"}));
    EXPECT_EQ(list_names("locks/"), V{});
    EXPECT_EQ(list_names("packs/ef/"), V{});
    EXPECT_EQ(list_names("packs/ab/zz"), V{});
    EXPECT_EQ(list_names("zzz"), V{});
    EXPECT_EQ(list_names("config/"), V{});

    auto infos = store().list("packs/ab/");
    ASSERT_TRUE(infos.ok());
    for (const auto& info : *infos) EXPECT_EQ(info.size, info.name == a ? 3u : 2u) << info.name;
}

TEST_P(StoreConformance, ListEmptyStore) {
    EXPECT_TRUE(list_names("").empty());
    EXPECT_TRUE(list_names("packs/").empty());
}

TEST_P(StoreConformance, ListRejectsEscapingPrefixes) {
    for (std::string_view prefix : {"../", "/", "a//", "packs/../", "./x"}) {
        EXPECT_EQ(store().list(prefix).status().code(), Code::invalid_argument) << prefix;
    }
}

TEST_P(StoreConformance, RemoveThenGet) {
    put_ok("locks/l1", "lock");
    put_ok("locks/l2", "lock");
    ASSERT_TRUE(store().remove("locks/l1").ok());
    EXPECT_EQ(store().get("locks/l1").status().code(), Code::not_found);
    EXPECT_EQ(store().stat("locks/l1").status().code(), Code::not_found);
    EXPECT_EQ(store().remove("locks/l1").code(), Code::not_found);
    EXPECT_EQ(list_names("locks/"), std::vector<std::string>{"locks/l2"});
    // The name can be created again, even with create_only.
    put_ok("locks/l1", "again", PutMode::create_only);
    EXPECT_EQ(get_str("locks/l1"), "again");
}

TEST_P(StoreConformance, LargeObject) {
    const Bytes data = pattern(20 << 20, 42);
    Status st = store().put("packs/99/large", data);
    ASSERT_TRUE(st.ok()) << st.to_string();
    auto got = store().get("packs/99/large");
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_TRUE(*got == data);
    auto range = store().get_range("packs/99/large", 12345678, 1 << 20);
    ASSERT_TRUE(range.ok()) << range.status().to_string();
    EXPECT_TRUE(std::equal(range->begin(), range->end(), data.begin() + 12345678));
    auto info = store().stat("packs/99/large");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->size, data.size());
}

TEST_P(StoreConformance, ManyObjectsListedCompletely) {
    constexpr int kCount = 2000;
    constexpr int kThreads = 8;  // durable puts are slow one at a time; the listing is the point
    std::vector<std::string> all;
    for (int i = 0; i < kCount; ++i) {
        std::string hex = hex_name(static_cast<uint32_t>(i));
        all.push_back("packs/" + hex.substr(0, 2) + "/" + hex);
    }
    const std::set<std::string> expected(all.begin(), all.end());
    ASSERT_EQ(expected.size(), all.size());
    std::atomic<int> failures{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
        writers.emplace_back([&, t] {
            for (size_t i = static_cast<size_t>(t); i < all.size(); i += kThreads) {
                if (!store().put(all[i], as_bytes(std::to_string(i))).ok()) ++failures;
            }
        });
    }
    for (auto& w : writers) w.join();
    ASSERT_EQ(failures.load(), 0);
    auto listed = store().list("packs/");
    ASSERT_TRUE(listed.ok()) << listed.status().to_string();
    EXPECT_EQ(listed->size(), expected.size());
    auto names = names_of(*listed);
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), expected);
    EXPECT_EQ(names.size(), expected.size()) << "duplicates in list()";
}

TEST_P(StoreConformance, ConcurrentWriters) {
    constexpr int kThreads = 8;
    constexpr int kPerThread = 100;
    std::atomic<bool> done{false};
    std::atomic<int> list_failures{0};
    // A concurrent lister must never fail nor see an object that was not put.
    std::thread lister([&] {
        while (!done.load()) {
            auto r = store().list("");
            if (!r.ok()) {
                ++list_failures;
                continue;
            }
            for (const auto& info : *r) {
                if (!info.name.starts_with("w/")) ++list_failures;
            }
        }
    });
    std::vector<std::thread> writers;
    std::atomic<int> put_failures{0};
    for (int t = 0; t < kThreads; ++t) {
        writers.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                std::string name = "w/" + std::to_string(i % 10) + "/t" + std::to_string(t) + "-" +
                                   std::to_string(i);
                if (!store().put(name, as_bytes(name)).ok()) ++put_failures;
            }
        });
    }
    for (auto& w : writers) w.join();
    done = true;
    lister.join();
    EXPECT_EQ(put_failures.load(), 0);
    EXPECT_EQ(list_failures.load(), 0);

    auto listed = store().list("w/");
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->size(), static_cast<size_t>(kThreads * kPerThread));
    for (const auto& info : *listed) {
        EXPECT_EQ(get_str(info.name), info.name);
        EXPECT_EQ(info.size, info.name.size());
    }
}

TEST_P(StoreConformance, ConcurrentCreateOnlyHasOneWinner) {
    constexpr int kThreads = 6;
    constexpr int kRounds = 20;
    for (int round = 0; round < kRounds; ++round) {
        const std::string name = "locks/round" + std::to_string(round);
        std::atomic<int> winners{0};
        std::atomic<int> winner_id{-1};
        std::atomic<int> others{0};
        std::atomic<bool> go{false};
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                while (!go.load()) std::this_thread::yield();
                std::string content = "writer " + std::to_string(t);
                Status st = store().put(name, as_bytes(content), PutMode::create_only);
                if (st.ok()) {
                    ++winners;
                    winner_id = t;
                } else if (st.code() != Code::already_exists) {
                    ++others;
                    ADD_FAILURE() << st.to_string();
                }
            });
        }
        go = true;
        for (auto& th : threads) th.join();
        ASSERT_EQ(winners.load(), 1) << name;
        EXPECT_EQ(others.load(), 0);
        EXPECT_EQ(get_str(name), "writer " + std::to_string(winner_id.load()));
    }
    EXPECT_EQ(list_names("locks/").size(), static_cast<size_t>(kRounds));
}

TEST_P(StoreConformance, InvalidNamesAreRejected) {
    const std::string with_nul("a\0b", 3);
    for (std::string_view name :
         {std::string_view(""), std::string_view("/abs"), std::string_view("a/../b"),
          std::string_view(".."), std::string_view("a//b"), std::string_view("./a"),
          std::string_view("a\\b"), std::string_view(with_nul), std::string_view("a/")}) {
        SCOPED_TRACE(std::string(name));
        EXPECT_EQ(store().put(name, as_bytes("x")).code(), Code::invalid_argument);
        EXPECT_EQ(store().get(name).status().code(), Code::invalid_argument);
        EXPECT_EQ(store().get_range(name, 0, 0).status().code(), Code::invalid_argument);
        EXPECT_EQ(store().stat(name).status().code(), Code::invalid_argument);
        EXPECT_EQ(store().remove(name).code(), Code::invalid_argument);
    }
    EXPECT_TRUE(list_names("").empty());
}

TEST_P(StoreConformance, DescribesItself) {
    EXPECT_FALSE(store().location().empty());
}

const StoreFactory kStoreFactories[] = {
    {"Local", make_local_store},
    {"Mem", make_mem_store},
    {"S3", make_s3_store},
};

INSTANTIATE_TEST_SUITE_P(Drivers, StoreConformance, ::testing::ValuesIn(kStoreFactories),
                         [](const ::testing::TestParamInfo<StoreFactory>& info) {
                             return info.param.name;
                         });

TEST(ValidateName, RejectsEscapes) {
    const std::string with_nul("a\0b", 3);
    const std::string nul_only(1, '\0');
    for (std::string_view name :
         {std::string_view(""), std::string_view("/abs"), std::string_view("/"),
          std::string_view("a/../b"), std::string_view(".."), std::string_view("../a"),
          std::string_view("a/.."), std::string_view("."), std::string_view("a/./b"),
          std::string_view("a//b"), std::string_view("./a"), std::string_view("a/"),
          std::string_view("a\\b"), std::string_view("..\\a"), std::string_view(with_nul),
          std::string_view(nul_only)}) {
        Status st = validate_name(name);
        EXPECT_EQ(st.code(), Code::invalid_argument) << '"' << name << '"';
    }
}

TEST(ValidateName, AcceptsOrdinaryNames) {
    for (std::string_view name : {"config", "index/0123abcd", "packs/ab/abcdef", "a.b", "...",
                                  ".hidden", "a/..b", "a/b.", "keys/k-1_x"}) {
        EXPECT_TRUE(validate_name(name).ok()) << name << ": " << validate_name(name).to_string();
    }
}

TEST(ValidateName, MessageNamesTheName) {
    Status st = validate_name("a/../b");
    EXPECT_NE(st.message().find("a/../b"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace coffer::store

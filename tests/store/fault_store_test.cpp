#include "coffer/store/fault/fault_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "coffer/store/mem/mem_store.h"

namespace coffer::store {
namespace {

class FaultStoreTest : public ::testing::Test {
protected:
    std::shared_ptr<MemStore> inner = std::make_shared<MemStore>();
    FaultStore store{inner};

    Status put(std::string_view name, std::string_view content = "data") {
        return store.put(name, as_bytes(content));
    }
    void seed(std::string_view name, std::string_view content) {
        ASSERT_TRUE(inner->put(name, as_bytes(content)).ok());
    }
};

TEST_F(FaultStoreTest, PassesThroughWithoutRules) {
    ASSERT_TRUE(put("config", "c").ok());
    auto got = store.get("config");
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(as_chars(*got), "c");
    EXPECT_EQ(store.location(), inner->location());
    EXPECT_EQ(store.capabilities().atomic_replace, inner->capabilities().atomic_replace);
    EXPECT_EQ(store.get("missing").status().code(), Code::not_found);
}

TEST_F(FaultStoreTest, NthPutFailsOnceThenSucceeds) {
    store.add_rule({.op = Op::put, .nth = 2});
    EXPECT_TRUE(put("a").ok());
    Status st = put("b");
    EXPECT_EQ(st.code(), Code::io);
    EXPECT_NE(st.message().find("b"), std::string::npos) << st.message();
    EXPECT_TRUE(put("c").ok());
    EXPECT_TRUE(put("b").ok());
    // The failed put never reached the inner store.
    EXPECT_TRUE(inner->get("a").ok());
    EXPECT_TRUE(inner->get("c").ok());
    auto listed = inner->list("");
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->size(), 3u);
}

TEST_F(FaultStoreTest, FailedPutDoesNotReachInnerStore) {
    store.add_rule({.op = Op::put, .nth = 1});
    EXPECT_FALSE(put("x").ok());
    EXPECT_EQ(inner->get("x").status().code(), Code::not_found);
}

TEST_F(FaultStoreTest, Forever) {
    store.add_rule({.op = Op::put, .nth = 3, .forever = true});
    EXPECT_TRUE(put("1").ok());
    EXPECT_TRUE(put("2").ok());
    for (int i = 3; i < 10; ++i) EXPECT_FALSE(put(std::to_string(i)).ok()) << i;
    store.clear_rules();
    EXPECT_TRUE(put("10").ok());
}

TEST_F(FaultStoreTest, CustomCode) {
    store.add_rule({.op = Op::get, .code = Code::transient});
    seed("x", "1");
    EXPECT_EQ(store.get("x").status().code(), Code::transient);
    EXPECT_TRUE(store.get("x").ok());
}

TEST_F(FaultStoreTest, PrefixFiltering) {
    // Only names under index/ count towards nth.
    store.add_rule({.op = Op::put, .prefix = "index/", .nth = 2});
    EXPECT_TRUE(put("index/1").ok());
    EXPECT_TRUE(put("packs/ab/1").ok());
    EXPECT_TRUE(put("packs/ab/2").ok());
    EXPECT_FALSE(put("index/2").ok());
    EXPECT_TRUE(put("index/3").ok());
    EXPECT_TRUE(put("config").ok());
}

TEST_F(FaultStoreTest, RulesMatchOnlyTheirOp) {
    seed("x", "1");
    store.add_rule({.op = Op::stat, .forever = true});
    EXPECT_TRUE(store.get("x").ok());
    EXPECT_TRUE(store.get_range("x", 0, 1).ok());
    EXPECT_TRUE(store.list("").ok());
    EXPECT_TRUE(put("y").ok());
    EXPECT_FALSE(store.stat("x").ok());
    EXPECT_TRUE(store.remove("y").ok());
}

TEST_F(FaultStoreTest, EveryOpCanFail) {
    seed("x", "12345");
    store.add_rule({.op = Op::get, .code = Code::not_found});
    store.add_rule({.op = Op::get_range});
    store.add_rule({.op = Op::stat});
    store.add_rule({.op = Op::list, .code = Code::transient});
    store.add_rule({.op = Op::remove});
    EXPECT_EQ(store.get("x").status().code(), Code::not_found);
    EXPECT_EQ(store.get_range("x", 0, 1).status().code(), Code::io);
    EXPECT_EQ(store.stat("x").status().code(), Code::io);
    EXPECT_EQ(store.list("").status().code(), Code::transient);
    EXPECT_EQ(store.remove("x").code(), Code::io);
    EXPECT_TRUE(inner->get("x").ok()) << "the failed remove must not reach the inner store";
}

TEST_F(FaultStoreTest, FirstMatchingRuleWinsAndEveryRuleCounts) {
    store.add_rule({.op = Op::put, .nth = 2, .code = Code::transient});
    store.add_rule({.op = Op::put, .nth = 2, .forever = true, .code = Code::permission});
    EXPECT_TRUE(put("1").ok());
    EXPECT_EQ(put("2").code(), Code::transient);
    EXPECT_EQ(put("3").code(), Code::permission);
    EXPECT_EQ(put("4").code(), Code::permission);
}

TEST_F(FaultStoreTest, ADelayStallsTheCallThenLetsItThroughWhileOthersProceed) {
    store.add_rule({.op = Op::put, .prefix = "locks/", .forever = true, .delay_ms = 300});
    auto t0 = std::chrono::steady_clock::now();
    std::thread slow([&] { EXPECT_TRUE(put("locks/a", "lease").ok()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // Other calls are not held up by the stalled one.
    auto t1 = std::chrono::steady_clock::now();
    ASSERT_TRUE(put("packs/p", "pack").ok());
    EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::milliseconds(100));
    EXPECT_FALSE(inner->stat("locks/a").ok()) << "not there before its delay is over";
    slow.join();
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
    auto got = inner->get("locks/a");
    ASSERT_TRUE(got.ok()) << "the delayed put reached the store";
    EXPECT_EQ(std::string(as_chars(*got)), "lease");
}

TEST_F(FaultStoreTest, FlipOffsetChangesExactlyOneByte) {
    const std::string content = "0123456789abcdef";
    seed("packs/ab/x", content);
    store.add_rule({.op = Op::get, .flip_offset = 5});
    auto got = store.get("packs/ab/x");
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    ASSERT_EQ(got->size(), content.size());
    int differing = 0;
    for (size_t i = 0; i < content.size(); ++i) {
        if ((*got)[i] != static_cast<uint8_t>(content[i])) {
            ++differing;
            EXPECT_EQ(i, 5u);
            EXPECT_EQ((*got)[i], static_cast<uint8_t>(content[i] ^ 0x01));
        }
    }
    EXPECT_EQ(differing, 1);
    // Only the first call was affected; the stored object is intact.
    auto again = store.get("packs/ab/x");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(as_chars(*again), content);
}

TEST_F(FaultStoreTest, FlipOffsetInRange) {
    seed("x", "0123456789");
    store.add_rule({.op = Op::get_range, .flip_offset = 0});
    auto got = store.get_range("x", 4, 3);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(as_chars(*got), std::string("\x35") + "56");  // '4' ^ 1 == '5'
}

TEST_F(FaultStoreTest, FlipOffsetPastEndLeavesDataAlone) {
    seed("x", "abc");
    store.add_rule({.op = Op::get, .flip_offset = 3});
    auto got = store.get("x");
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(as_chars(*got), "abc");
}

TEST_F(FaultStoreTest, TruncateBy) {
    seed("x", "0123456789");
    store.add_rule({.op = Op::get, .truncate_by = 3});
    store.add_rule({.op = Op::get_range, .truncate_by = 100});
    auto got = store.get("x");
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(as_chars(*got), "0123456");
    auto range = store.get_range("x", 2, 5);
    ASSERT_TRUE(range.ok());
    EXPECT_TRUE(range->empty());
}

TEST_F(FaultStoreTest, CorruptingRulePassesInnerErrorsThrough) {
    store.add_rule({.op = Op::get, .flip_offset = 0});
    EXPECT_EQ(store.get("missing").status().code(), Code::not_found);
}

TEST_F(FaultStoreTest, DropEntries) {
    for (int i = 0; i < 5; ++i) seed("index/" + std::to_string(i), "i");
    seed("config", "c");
    store.add_rule({.op = Op::list, .prefix = "index/", .drop_entries = 2});
    auto all = store.list("");  // prefix "" does not match "index/"
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 6u);
    auto lying = store.list("index/");
    ASSERT_TRUE(lying.ok()) << lying.status().to_string();
    EXPECT_EQ(lying->size(), 3u);
    for (const auto& info : *lying) EXPECT_TRUE(info.name.starts_with("index/")) << info.name;
    auto honest = store.list("index/");
    ASSERT_TRUE(honest.ok());
    EXPECT_EQ(honest->size(), 5u);
}

TEST_F(FaultStoreTest, MutatingCallsCountsPutsAndRemoves) {
    EXPECT_EQ(store.mutating_calls(), 0u);
    ASSERT_TRUE(put("a").ok());
    ASSERT_TRUE(put("b").ok());
    ASSERT_TRUE(store.get("a").ok());
    ASSERT_TRUE(store.get_range("a", 0, 1).ok());
    ASSERT_TRUE(store.stat("a").ok());
    ASSERT_TRUE(store.list("").ok());
    EXPECT_EQ(store.mutating_calls(), 2u);
    ASSERT_TRUE(store.remove("a").ok());
    EXPECT_EQ(store.remove("a").code(), Code::not_found);
    EXPECT_EQ(store.mutating_calls(), 4u);
    // Injected failures are calls too.
    store.add_rule({.op = Op::put, .forever = true});
    EXPECT_FALSE(put("c").ok());
    EXPECT_EQ(store.mutating_calls(), 5u);
}

TEST_F(FaultStoreTest, CrashPointSweep) {
    // The intended use: run a workload once to count its mutating calls, then once per call
    // with that call failing, checking that the failure surfaces.
    auto workload = [](Store& s) -> Status {
        TRY(s.put("packs/ab/p1", as_bytes("pack")));
        TRY(s.put("index/i1", as_bytes("index")));
        TRY(s.put("snapshots/s1", as_bytes("snap"), PutMode::create_only));
        return s.remove("locks/l1");
    };
    seed("locks/l1", "l");
    ASSERT_TRUE(workload(store).ok());
    const uint64_t calls = store.mutating_calls();
    EXPECT_EQ(calls, 4u);
    for (uint64_t n = 1; n <= calls; ++n) {
        auto fresh = std::make_shared<MemStore>();
        ASSERT_TRUE(fresh->put("locks/l1", as_bytes("l")).ok());
        FaultStore faulty(fresh);
        // Calls 1-3 are puts, call 4 is the remove.
        faulty.add_rule(n <= 3 ? FaultRule{.op = Op::put, .nth = n}
                               : FaultRule{.op = Op::remove, .nth = n - 3});
        Status st = workload(faulty);
        EXPECT_FALSE(st.ok()) << "crash point " << n;
        EXPECT_EQ(faulty.mutating_calls(), n);
    }
}

TEST_F(FaultStoreTest, ConcurrentCallsFireExactlyOnce) {
    store.add_rule({.op = Op::put, .nth = 50});
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                // Appended piecewise: GCC 12 -O3 warns (-Wrestrict) on "t" + to_string(t) + ...
                std::string name = "t";
                name += std::to_string(t);
                name += '/';
                name += std::to_string(i);
                if (!put(name).ok()) ++failures;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 1);
    EXPECT_EQ(store.mutating_calls(), 200u);
}

}  // namespace
}  // namespace coffer::store

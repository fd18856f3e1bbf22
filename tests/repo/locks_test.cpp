// Leases and the prune lock on an in-memory store: exclusion both ways, waiting, staleness by
// age and by a dead process, refresh, and an owner that learns its lock was removed.
#include "coffer/repo/locks.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "coffer/repo/keys.h"
#include "coffer/store/fault/fault_store.h"
#include "coffer/store/mem/mem_store.h"
#include "repo/repo_test_util.h"

namespace coffer::repo {
namespace {

constexpr int64_t k_ms = 1000000;
const std::string k_key = "00112233445566778899aabbccddeeff";

LockOptions fast() {
    LockOptions o;
    o.refresh_ns = 50 * k_ms;
    o.stale_after_ns = 60LL * 1000 * k_ms;
    o.wait_ns = 300 * k_ms;
    o.poll_ns = 20 * k_ms;
    return o;
}

std::vector<LockInfo> locks_of(store::Store& s, const LockOptions& o) {
    auto l = list_locks(s, k_key, o);
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    return l.ok() ? *l : std::vector<LockInfo>{};
}

// A lock object as another process would have written it.
void put_foreign(store::Store& s, const std::string& name, const std::string& host, int64_t pid,
                 int64_t refreshed_ns, const std::string& machine = "") {
    std::string json = "{\"key_id\":\"" + k_key + "\",\"host\":\"" + host +
                       "\",\"pid\":" + std::to_string(pid) + ",\"purpose\":\"backup\"," +
                       "\"machine\":\"" + machine + "\"," +
                       "\"created_ns\":" + std::to_string(refreshed_ns) +
                       ",\"refreshed_ns\":" + std::to_string(refreshed_ns) + "}";
    ASSERT_TRUE(s.put(name, as_bytes(json)).ok());
}

std::string this_host() {
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    return buf;
}

int64_t dead_pid() {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, nullptr, 0);
    return pid;
}

TEST(Locks, PruneIsRefusedWhileALeaseIsLiveAndDeletesNothing) {
    auto store = std::make_shared<store::MemStore>();
    auto lease = Lock::acquire_lease(store, k_key, fast());
    ASSERT_TRUE(lease.ok()) << lease.status().to_string();
    auto prune = Lock::acquire_prune(store, k_key, fast());
    ASSERT_FALSE(prune.ok());
    EXPECT_EQ(prune.status().code(), Code::lock_held);
    EXPECT_NE(prune.status().message().find("a backup is running"), std::string::npos)
        << prune.status().message();
    EXPECT_EQ(locks_of(*store, fast()).size(), 1u) << "the refused prune withdrew its lock";
    ASSERT_TRUE((*lease)->release().ok());
    EXPECT_TRUE(locks_of(*store, fast()).empty());
    auto again = Lock::acquire_prune(store, k_key, fast());
    EXPECT_TRUE(again.ok()) << again.status().to_string();
}

TEST(Locks, AnotherKeysLeaseDoesNotHoldUpPrune) {
    auto store = std::make_shared<store::MemStore>();
    auto lease = Lock::acquire_lease(store, "ffeeddccbbaa99887766554433221100", fast());
    ASSERT_TRUE(lease.ok());
    EXPECT_TRUE(Lock::acquire_prune(store, k_key, fast()).ok());
}

TEST(Locks, TwoPrunesExcludeEachOther) {
    auto store = std::make_shared<store::MemStore>();
    auto first = Lock::acquire_prune(store, k_key, fast());
    ASSERT_TRUE(first.ok());
    auto second = Lock::acquire_prune(store, k_key, fast());
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.status().message().find("another prune"), std::string::npos);
}

TEST(Locks, WritersDoNotExcludeEachOther) {
    auto store = std::make_shared<store::MemStore>();
    auto a = Lock::acquire_lease(store, k_key, fast());
    auto b = Lock::acquire_lease(store, k_key, fast());
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(locks_of(*store, fast()).size(), 2u);
}

TEST(Locks, ALeaseWaitsForPruneThenGivesUpWithLockHeld) {
    auto store = std::make_shared<store::MemStore>();
    auto prune = Lock::acquire_prune(store, k_key, fast());
    ASSERT_TRUE(prune.ok());
    std::vector<std::string> notices;
    LockOptions o = fast();
    o.on_notice = [&](const std::string& s) { notices.push_back(s); };
    auto t0 = std::chrono::steady_clock::now();
    auto lease = Lock::acquire_lease(store, k_key, o);
    auto waited = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(lease.ok());
    EXPECT_EQ(lease.status().code(), Code::lock_held);
    EXPECT_GE(waited, std::chrono::milliseconds(300));
    ASSERT_EQ(notices.size(), 1u);
    EXPECT_NE(notices[0].find("waiting for prune"), std::string::npos);
    EXPECT_EQ(locks_of(*store, o).size(), 1u) << "the waiting writer left no lease behind";
}

TEST(Locks, ALeaseProceedsOncePruneEnds) {
    auto store = std::make_shared<store::MemStore>();
    auto prune = Lock::acquire_prune(store, k_key, fast());
    ASSERT_TRUE(prune.ok());
    LockOptions o = fast();
    o.wait_ns = 10LL * 1000 * k_ms;
    std::thread ender([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        (void)(*prune)->release();
    });
    auto lease = Lock::acquire_lease(store, k_key, o);
    ender.join();
    EXPECT_TRUE(lease.ok()) << lease.status().to_string();
}

TEST(Locks, ALockOfADeadProcessOnThisHostIsStaleAndReported) {
    auto store = std::make_shared<store::MemStore>();
    put_foreign(*store, "locks/" + k_key + "/dead.lease", this_host(), dead_pid(), now_unix_ns(),
                machine_id());
    std::vector<std::string> notices;
    LockOptions o = fast();
    o.on_notice = [&](const std::string& s) { notices.push_back(s); };
    auto prune = Lock::acquire_prune(store, k_key, o);
    ASSERT_TRUE(prune.ok()) << prune.status().to_string();
    ASSERT_EQ((*prune)->stale_seen().size(), 1u);
    ASSERT_EQ(notices.size(), 1u);
    EXPECT_NE(notices[0].find("stale"), std::string::npos);
    // Reported, not removed: `coffer unlock` does that.
    EXPECT_TRUE(store->stat("locks/" + k_key + "/dead.lease").ok());
}

TEST(Locks, ADeadPidOfAnotherMachineOrNamespaceIsNotTakenForGone) {
    // Same host name (a container with the host's network), other PID namespace: its pid
    // means nothing here, so only age can make the lock stale.
    auto store = std::make_shared<store::MemStore>();
    put_foreign(*store, "locks/" + k_key + "/other.lease", this_host(), dead_pid(), now_unix_ns(),
                "another-boot/pid:[1]");
    auto prune = Lock::acquire_prune(store, k_key, fast());
    EXPECT_FALSE(prune.ok()) << "a live lease elsewhere was judged stale";
}

TEST(Locks, ALockOfALiveProcessElsewhereIsStaleOnlyWhenOldByTheStoresClock) {
    auto store = std::make_shared<store::MemStore>();
    LockOptions o = fast();
    o.stale_after_ns = 300 * k_ms;
    // Its owner's clock says it was refreshed an hour ago; the store saw it written just now:
    // the store's clock decides, so skewed clocks cannot make a live lock stale.
    put_foreign(*store, "locks/" + k_key + "/skewed.lease", "another-host", 1,
                now_unix_ns() - 3600LL * 1000 * k_ms);
    EXPECT_FALSE(Lock::acquire_prune(store, k_key, o).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    EXPECT_TRUE(Lock::acquire_prune(store, k_key, o).ok()) << "not written for longer than allowed";
}

TEST(Locks, TheOwnersLongerStaleLimitIsHonoured) {
    auto store = std::make_shared<store::MemStore>();
    LockOptions owner = fast();
    owner.stale_after_ns = 60LL * 1000 * k_ms;
    owner.refresh_ns = 10LL * 1000 * k_ms;
    auto lease = Lock::acquire_lease(store, k_key, owner);
    ASSERT_TRUE(lease.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    LockOptions impatient = fast();
    impatient.stale_after_ns = 100 * k_ms;  // COFFER_LOCK_STALE_AFTER set low on the pruning host
    EXPECT_FALSE(Lock::acquire_prune(store, k_key, impatient).ok());
}

TEST(Locks, AWriterFindsAPruneThatStartedBehindItsBackBeforeCommitting) {
    auto store = std::make_shared<store::MemStore>();
    auto lease = Lock::acquire_lease(store, k_key, fast());
    ASSERT_TRUE(lease.ok());
    EXPECT_TRUE((*lease)->check_before_commit().ok());
    // A prune lock that a buggy or impatient prune left in place while it works.
    put_foreign(*store, "locks/" + k_key + "/rogue.prune", "another-host", 1, now_unix_ns());
    auto t0 = std::chrono::steady_clock::now();
    Status st = (*lease)->check_before_commit();
    EXPECT_EQ(st.code(), Code::lock_held) << st.to_string();
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4)) << "it waited first";
}

TEST(Locks, AGarbledLockIsStale) {
    auto store = std::make_shared<store::MemStore>();
    ASSERT_TRUE(store->put("locks/" + k_key + "/x.lease", as_bytes(std::string("{oops"))).ok());
    auto l = locks_of(*store, fast());
    ASSERT_EQ(l.size(), 1u);
    EXPECT_TRUE(l[0].stale);
}

TEST(Locks, RefreshKeepsTheLockFreshAndReleaseRemovesIt) {
    auto store = std::make_shared<store::MemStore>();
    auto lease = Lock::acquire_lease(store, k_key, fast());
    ASSERT_TRUE(lease.ok());
    int64_t first = locks_of(*store, fast()).at(0).refreshed_ns;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    int64_t later = locks_of(*store, fast()).at(0).refreshed_ns;
    EXPECT_GT(later, first);
    EXPECT_TRUE((*lease)->check().ok());
    ASSERT_TRUE((*lease)->release().ok());
    EXPECT_TRUE(locks_of(*store, fast()).empty());
    EXPECT_TRUE((*lease)->release().ok()) << "idempotent";
}

TEST(Locks, AnOwnerWhoseLockWasRemovedKnows) {
    auto store = std::make_shared<store::MemStore>();
    auto lease = Lock::acquire_lease(store, k_key, fast());
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE(store->remove((*lease)->name()).ok());             // coffer unlock --all
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // check() looks once a second
    Status st = (*lease)->check();
    EXPECT_EQ(st.code(), Code::lock_held) << st.to_string();
    EXPECT_FALSE(store->stat((*lease)->name()).ok()) << "not silently written back";
}

// The lapsed-lock data loss of other tools: a writer whose store stalls (every refresh takes
// longer than the stale limit) must learn its lease may have lapsed before anyone else may
// take it for stale, so that a prune which then runs deletes nothing the writer still commits.
TEST(Locks, AWriterWhoseRefreshesStallKnowsBeforeOthersTakeItsLeaseForStale) {
    auto mem = std::make_shared<store::MemStore>();
    auto faulty = std::make_shared<store::FaultStore>(mem);
    LockOptions o = fast();
    o.refresh_ns = 50 * k_ms;
    o.stale_after_ns = 800 * k_ms;
    auto lease = Lock::acquire_lease(faulty, k_key, o);
    ASSERT_TRUE(lease.ok()) << lease.status().to_string();
    // From now on every write to locks/ takes 2 s: no refresh lands in time.
    faulty->add_rule({.op = store::Op::put, .prefix = "locks/", .forever = true, .delay_ms = 2000});
    auto t0 = std::chrono::steady_clock::now();
    auto elapsed_ms = [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
            .count();
    };
    // The owner gives up at half the stale limit...
    while ((*lease)->check().ok() && elapsed_ms() < 3000)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto gave_up = elapsed_ms();
    EXPECT_FALSE((*lease)->check().ok());
    EXPECT_LE(gave_up, 800) << "the owner still trusted a lease others may call stale";
    EXPECT_FALSE((*lease)->check_before_commit().ok());
    // ... while to a prune on the unstalled store the lease is still live until the limit.
    if (elapsed_ms() < 700) {
        auto early = Lock::acquire_prune(mem, k_key, o);
        EXPECT_EQ(early.status().code(), Code::lock_held) << "prune ran under a live lease";
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::max<int64_t>(0, 1000 - elapsed_ms())));
    auto prune = Lock::acquire_prune(mem, k_key, o);
    EXPECT_TRUE(prune.ok()) << prune.status().to_string();
}

}  // namespace
}  // namespace coffer::repo

// Snapshot manifests and tombstones (repo/snapshot.h, repo/tombstone.h): JSON payloads inside the
// metadata envelope.
//
// Byte 0 picks a mode (mod 4):
//   0 raw snapshot object: open_meta with the fixed keys, then Snapshot::parse
//   1 manifest JSON: Snapshot::parse
//   2 raw tombstone object: open_meta, then Tombstone::parse
//   3 tombstone JSON: Tombstone::parse
// Whatever parses must survive to_json() (no exception) and parse back to the same value, and the
// JSON must survive seal_meta/open_meta.
#include <exception>

#include "coffer/repo/meta.h"
#include "coffer/repo/snapshot.h"
#include "coffer/repo/tombstone.h"
#include "fuzz_common.h"

using namespace coffer;
using namespace coffer::repo;
using coffer::fuzz::Cursor;

namespace {

bool same(const SnapshotSummary& a, const SnapshotSummary& b) {
    return a.files_new == b.files_new && a.files_changed == b.files_changed &&
           a.files_unchanged == b.files_unchanged && a.dirs == b.dirs && a.errors == b.errors &&
           a.bytes_read == b.bytes_read && a.total_bytes == b.total_bytes &&
           a.data_added == b.data_added && a.packed_added == b.packed_added &&
           a.duration_s == b.duration_s;
}

bool same(const Snapshot& a, const Snapshot& b) {
    if (a.sources.size() != b.sources.size()) return false;
    for (size_t i = 0; i < a.sources.size(); ++i) {
        const auto &x = a.sources[i], &y = b.sources[i];
        if (x.name != y.name || x.type != y.type || x.bytes != y.bytes || x.files != y.files)
            return false;
    }
    // to_json() writes sources only for a set: without one they are dropped, by design.
    return a.key_id == b.key_id && a.time_ns == b.time_ns && a.hostname == b.hostname &&
           a.paths == b.paths && a.tags == b.tags && a.tree == b.tree && a.refs == b.refs &&
           a.sequence == b.sequence && a.previous == b.previous && a.incomplete == b.incomplete &&
           same(a.summary, b.summary) && a.set == b.set;
}

bool same(const Tombstone& a, const Tombstone& b) {
    if (a.time_ns != b.time_ns || a.reason != b.reason || a.snapshots.size() != b.snapshots.size())
        return false;
    for (size_t i = 0; i < a.snapshots.size(); ++i) {
        const auto &x = a.snapshots[i], &y = b.snapshots[i];
        if (x.id != y.id || x.sequence != y.sequence || x.time_ns != y.time_ns) return false;
    }
    return true;
}

template <typename T>
std::string to_json_or_abort(const T& value) {
    try {
        return value.to_json();
    } catch (const std::exception& e) {
        fuzz::fail(__FILE__, __LINE__, "to_json() threw on a value parse() accepted", e.what());
    }
}

void envelope(const std::string& json, MetaType type) {
    const KeyRing& keys = *fuzz::fixed_keys();
    auto sealed = seal_meta(keys, type, as_bytes(json));
    FUZZ_CHECK(sealed.ok());
    auto opened = open_meta(keys, *sealed, type, "fuzz");
    FUZZ_CHECK_MSG(opened.ok(), opened.status().to_string());
    FUZZ_CHECK(as_chars(*opened) == json);
}

void snapshot(ByteView json) {
    auto s = Snapshot::parse(json, "fuzz");
    if (!s.ok()) {
        FUZZ_CHECK_MSG(s.status().code() == Code::corruption, s.status().to_string());
        return;
    }
    if (s->set.empty()) s->sources.clear();
    std::string text = to_json_or_abort(*s);
    auto again = Snapshot::parse(as_bytes(text), "fuzz");
    FUZZ_CHECK_MSG(again.ok(), "to_json() wrote a manifest parse() refuses: " +
                                   again.status().to_string() + "\n" + text);
    FUZZ_CHECK_MSG(same(*s, *again), text);
    FUZZ_CHECK(to_json_or_abort(*again) == text);
    for (const auto& src : s->sources) FUZZ_CHECK(s->find_source(src.name) != nullptr);
    envelope(text, MetaType::snapshot);
}

void tombstone(ByteView json) {
    auto t = Tombstone::parse(json, "fuzz");
    if (!t.ok()) {
        FUZZ_CHECK_MSG(t.status().code() == Code::corruption, t.status().to_string());
        return;
    }
    std::string text = to_json_or_abort(*t);
    auto again = Tombstone::parse(as_bytes(text), "fuzz");
    FUZZ_CHECK_MSG(again.ok(), "to_json() wrote a tombstone parse() refuses: " +
                                   again.status().to_string() + "\n" + text);
    FUZZ_CHECK_MSG(same(*t, *again), text);
    envelope(text, MetaType::tombstone);
}

void raw(ByteView object, MetaType type) {
    const KeyRing& keys = *fuzz::fixed_keys();
    auto payload = open_meta(keys, object, type, "fuzz");
    if (!payload.ok()) return;
    if (type == MetaType::snapshot)
        snapshot(*payload);
    else
        tombstone(*payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    Cursor in(data, size);
    uint8_t mode = in.u8() % 4;
    ByteView rest = in.rest();
    switch (mode) {
        case 0:
            raw(rest, MetaType::snapshot);
            break;
        case 1:
            snapshot(rest);
            break;
        case 2:
            raw(rest, MetaType::tombstone);
            break;
        case 3:
            tombstone(rest);
            break;
    }
    return 0;
}

// coffer_micro: Google Benchmark micro-benchmarks of the paths every backed-up byte takes.
//
// chunking (keyed FastCDC) -> chunk ID (HMAC-SHA256) -> zstd -> per-chunk HKDF + AES-256-GCM ->
// pack writing, and the index lookup that decides whether a chunk is new at all. Each benchmark
// reports bytes/s (items/s for lookups) so figures compare directly with disk and network speeds.
//
// Inputs are generated in memory from fixed seeds, never read from disk, so runs are repeatable
// and measure CPU, not I/O. They are built once, lazily, by the first benchmark that needs them
// (function-local statics), so filtering to one benchmark does not pay for the others' inputs.
// Keys are fixed, or random for the pack writer's key ring: no figure depends on key values.
// Single-threaded throughout: these are per-core costs, and the backup pipeline multiplies them by
// its worker count.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "coffer/chunker/chunker.h"
#include "coffer/crypto/crypto.h"
#include "coffer/repo/format.h"
#include "coffer/repo/index.h"
#include "coffer/repo/keyring.h"
#include "coffer/repo/keys.h"
#include "coffer/repo/pack.h"
#include "coffer/util/compress.h"

namespace coffer::bench {
namespace {

constexpr size_t k_mib = size_t{1} << 20;
constexpr size_t k_chunk_size = k_mib;         // the default average chunk
constexpr size_t k_stream_size = 64 * k_mib;   // enough for ~64 chunks at the default average
constexpr size_t k_pack_size = 16 * k_mib;     // RepoConfig's default pack_size
constexpr size_t k_index_entries = 1'000'000;  // ~1 TB of data at 1 MiB chunks
constexpr int k_zstd_level = 3;                // RepoConfig's default zstd_level

// ---- deterministic inputs ----

// Incompressible but reproducible bytes (mt19937_64's output is fixed by the standard).
Bytes pseudo_random(size_t n, uint64_t seed) {
    std::mt19937_64 gen(seed);
    Bytes out(n);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = gen();
        for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<uint8_t>(v >> (8 * j));
    }
    return out;
}

// Text-like bytes: words from a 512-word vocabulary, skewed towards the first words as in natural
// text and logs, with punctuation, numbers and line breaks. zstd -3 shrinks it about as much as it
// does source code or logs (the ratio is reported next to the compression figures). The skew and
// the vocabulary are computed from raw generator output, not std:: distributions, whose results
// differ between standard libraries.
Bytes text_like(size_t n, uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::vector<std::string> words(512);
    for (auto& w : words) {
        size_t len = 2 + gen() % 9;
        for (size_t i = 0; i < len; ++i) w.push_back(static_cast<char>('a' + gen() % 26));
    }
    Bytes out;
    out.reserve(n + 32);
    size_t words_on_line = 0;
    while (out.size() < n) {
        uint64_t v = gen();
        if (v % 16 == 0) {
            append(out, as_bytes(std::to_string(v >> 40)));
        } else {
            // The smaller of two uniform picks: word k is about twice as common as word 2k.
            size_t a = (v >> 8) % words.size(), b = (v >> 24) % words.size();
            append(out, as_bytes(words[a < b ? a : b]));
        }
        if (++words_on_line == 12) {
            out.push_back('\n');
            words_on_line = 0;
        } else {
            out.push_back((v >> 56) % 8 == 0 ? ',' : ' ');
        }
    }
    out.resize(n);
    return out;
}

enum class Data { text, random };

const Bytes& random_stream() {
    static const Bytes data = pseudo_random(k_stream_size, 1);
    return data;
}

// 8 MiB, so that the pack benchmark cycles through distinct chunks rather than re-reading one
// cache-resident megabyte.
const Bytes& text_stream() {
    static const Bytes data = text_like(8 * k_mib, 2);
    return data;
}

ByteView input(Data kind, size_t size) {
    const Bytes& src = kind == Data::text ? text_stream() : random_stream();
    return ByteView(src).first(size);
}

// A repository's keys without a store (as tests/repo/repo_test_util.h KeySet makes them), with
// the recovery key so that the pack writer can seal data keys to it.
struct BenchKeys {
    repo::RepoConfig config;
    repo::RecoveryKey recovery;
    repo::HostKey host;
    std::shared_ptr<const repo::KeyRing> ring;
};

Result<BenchKeys> make_keys() {
    BenchKeys k;
    k.recovery = repo::RecoveryKey::generate();
    k.config.id = Id::from(crypto::random_bytes(32));
    k.config.created = repo::now_rfc3339();
    k.config.recovery_public_key = k.recovery.public_key;
    TRY_ASSIGN(k.host, repo::HostKey::generate(k.config, "bench"));
    TRY_ASSIGN(k.ring, repo::KeyRing::from_host_key(k.host, &k.recovery));
    return k;
}

const Result<BenchKeys>& keys() {
    static const Result<BenchKeys> k = make_keys();
    return k;
}

// Fails the benchmark (rather than measuring an error path) when st is not ok.
bool check(benchmark::State& state, const Status& st) {
    if (st.ok()) return true;
    state.SkipWithError(st.to_string().c_str());
    return false;
}

// ---- 1. chunking ----

// Keyed FastCDC over a 64 MiB stream at the default 1 MiB average, cutting the whole stream as
// the archiver does (each cut sees the rest of the stream from the last boundary).
void chunker_fastcdc(benchmark::State& state) {
    // Gear material as make_chunker derives it: HKDF of a (here fixed) chunk-ID key, 2048 bytes.
    Bytes chunk_id_key(32, 0x42);
    SecretBytes material =
        crypto::hkdf_sha256(chunk_id_key, {}, as_bytes(repo::info::chunker_gear), 2048);
    auto params = chunker::Params::for_average(1 << 20);
    if (!check(state, params.status())) return;
    chunker::Chunker chunker(chunker::gear_from_material(material.view()), *params);
    ByteView data = random_stream();
    size_t chunks = 0;
    for (auto _ : state) {
        chunks = 0;
        for (size_t pos = 0; pos < data.size(); ++chunks) pos += chunker.cut(data.subspan(pos));
        benchmark::DoNotOptimize(chunks);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
    state.counters["chunks"] = static_cast<double>(chunks);
    state.counters["avg_chunk_KiB"] = static_cast<double>(data.size()) / chunks / 1024;
}
BENCHMARK(chunker_fastcdc)->Unit(benchmark::kMillisecond);

// ---- 2. hashing ----

// SHA-256 names packs and checks every object read back.
void hash_sha256(benchmark::State& state) {
    ByteView data = input(Data::random, k_chunk_size);
    for (auto _ : state) benchmark::DoNotOptimize(crypto::sha256(data));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(hash_sha256)->Unit(benchmark::kMicrosecond);

// The chunk ID, exactly as KeyRing::chunk_id computes it: HMAC-SHA256(chunk_id_key, type || data).
void hash_hmac_chunk_id(benchmark::State& state) {
    ByteView data = input(Data::random, k_chunk_size);
    crypto::HmacSha256 mac(Bytes(32, 0x17));
    uint8_t type = static_cast<uint8_t>(repo::ChunkType::data);
    for (auto _ : state) benchmark::DoNotOptimize(mac.compute(ByteView(&type, 1), data));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(hash_hmac_chunk_id)->Unit(benchmark::kMicrosecond);

// ---- 3. compression ----

void zstd_compress_1mib(benchmark::State& state, Data kind) {
    ByteView data = input(kind, k_chunk_size);
    size_t compressed = 0;
    for (auto _ : state) {
        Bytes out = zstd_compress(data, k_zstd_level);
        compressed = out.size();
        benchmark::DoNotOptimize(out.data());
    }
    if (compressed == 0) {
        state.SkipWithError("zstd_compress failed");
        return;
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
    state.counters["ratio"] = static_cast<double>(data.size()) / compressed;
}
BENCHMARK_CAPTURE(zstd_compress_1mib, text, Data::text)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(zstd_compress_1mib, random, Data::random)->Unit(benchmark::kMicrosecond);

// Bytes/s of decompressed output, the figure that bounds restore.
void zstd_decompress_1mib(benchmark::State& state, Data kind) {
    ByteView data = input(kind, k_chunk_size);
    Bytes frame = zstd_compress(data, k_zstd_level);
    if (frame.empty()) {
        state.SkipWithError("zstd_compress failed");
        return;
    }
    for (auto _ : state) {
        Result<Bytes> out = zstd_decompress(frame, data.size());
        if (!check(state, out.status())) break;
        benchmark::DoNotOptimize(out->data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK_CAPTURE(zstd_decompress_1mib, text, Data::text)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(zstd_decompress_1mib, random, Data::random)->Unit(benchmark::kMicrosecond);

// ---- 4. encryption ----

// A fixed key and nonce: nothing sealed here is kept, so the nonce reuse that would be fatal in
// a pack costs nothing; the cipher's speed does not depend on either value.
constexpr std::array<uint8_t, crypto::k_key_size> k_bench_key{};
constexpr std::array<uint8_t, crypto::k_gcm_nonce_size> k_bench_nonce{};

// The record AAD PackWriter uses: "CFRC" || type || id.
Bytes record_aad() {
    Bytes aad = to_bytes("CFRC");
    aad.push_back(static_cast<uint8_t>(repo::ChunkType::data));
    aad.resize(aad.size() + 32, 0x33);
    return aad;
}

// The caller-buffer variants are the ones PackWriter and the pack reader use.
void aes_gcm_seal_1mib(benchmark::State& state) {
    ByteView data = input(Data::random, k_chunk_size);
    Bytes aad = record_aad();
    Bytes out(data.size() + crypto::k_gcm_tag_size);
    for (auto _ : state) {
        if (!check(state, crypto::aes_gcm_seal_into(k_bench_key, k_bench_nonce, aad, data, out)))
            break;
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(aes_gcm_seal_1mib)->Unit(benchmark::kMicrosecond);

void aes_gcm_open_1mib(benchmark::State& state) {
    ByteView data = input(Data::random, k_chunk_size);
    Bytes aad = record_aad();
    Result<Bytes> sealed = crypto::aes_gcm_seal(k_bench_key, k_bench_nonce, aad, data);
    if (!check(state, sealed.status())) return;
    Bytes out(data.size());
    for (auto _ : state) {
        if (!check(state, crypto::aes_gcm_open_into(k_bench_key, k_bench_nonce, aad, *sealed, out)))
            break;
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(aes_gcm_open_1mib)->Unit(benchmark::kMicrosecond);

// The per-chunk key PackWriter derives before sealing each record (pack.cpp's chunk_key):
// HKDF-SHA256(data_key, salt = repo_id, info = "coffer chunk v1" || type || id), 32 bytes.
// A fixed cost per chunk, whatever its size: compare it with aes_gcm_seal_1mib's time.
void hkdf_chunk_key(benchmark::State& state) {
    Bytes data_key(32, 0x21), repo_id(32, 0x22);
    Bytes info = to_bytes(repo::info::chunk);
    info.push_back(static_cast<uint8_t>(repo::ChunkType::data));
    size_t id_at = info.size();
    info.resize(id_at + 32, 0);
    uint64_t n = 0;
    for (auto _ : state) {
        // A different chunk ID each time, as in a real pack (the cost does not depend on it).
        ++n;
        for (int b = 0; b < 8; ++b) info[id_at + b] = static_cast<uint8_t>(n >> (8 * b));
        SecretBytes key = crypto::hkdf_sha256(data_key, repo_id, info, 32);
        benchmark::DoNotOptimize(key.data());
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(hkdf_chunk_key)->Unit(benchmark::kMicrosecond);

// ---- 5. pack writing ----

// PackWriter::create, add() of 1 MiB chunks until the pack reaches 16 MiB (Repository's rule:
// flush once size() >= pack_size), then finish(). Everything a chunk costs between the chunker
// and the store: the zstd attempt, HKDF, AES-GCM, copying into the pack, the trailer and the
// pack's SHA-256. Bytes/s counts chunk plaintext, so compressible data fits more per pack.
void pack_write_16mib(benchmark::State& state, Data kind) {
    const Result<BenchKeys>& k = keys();
    if (!check(state, k.status())) return;
    const Bytes& src = kind == Data::text ? text_stream() : random_stream();
    size_t n_chunks = src.size() / k_chunk_size;
    std::vector<Id> ids;
    for (size_t i = 0; i < n_chunks; ++i)
        ids.push_back(k->ring->chunk_id(repo::ChunkType::data,
                                        ByteView(src).subspan(i * k_chunk_size, k_chunk_size)));
    size_t added = 0, chunks = 0, pack_bytes = 0, next = 0;
    for (auto _ : state) {
        Result<repo::PackWriter> writer = repo::PackWriter::create(k->ring, k_zstd_level);
        if (!check(state, writer.status())) break;
        bool failed = false;
        while (writer->size() < k_pack_size) {
            ByteView chunk = ByteView(src).subspan(next * k_chunk_size, k_chunk_size);
            if (!check(state, writer->add(ids[next], repo::ChunkType::data, chunk))) {
                failed = true;
                break;
            }
            added += chunk.size();
            ++chunks;
            next = (next + 1) % n_chunks;
        }
        if (failed) break;
        Result<repo::FinishedPack> pack = writer->finish();
        if (!check(state, pack.status())) break;
        pack_bytes += pack->bytes.size();
        benchmark::DoNotOptimize(pack->id);
    }
    state.SetBytesProcessed(static_cast<int64_t>(added));
    if (state.iterations() > 0)
        state.counters["chunks_per_pack"] = static_cast<double>(chunks) / state.iterations();
    if (pack_bytes > 0)
        state.counters["ratio"] = static_cast<double>(added) / static_cast<double>(pack_bytes);
}
BENCHMARK_CAPTURE(pack_write_16mib, text, Data::text)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(pack_write_16mib, random, Data::random)->Unit(benchmark::kMillisecond);

// ---- 6. index lookup ----

// A million IDs spread over packs of 16 chunks, as 1 MiB chunks in 16 MiB packs would be, plus
// the probe lists: every present ID in a shuffled order (probing in insertion order would walk
// the hash nodes in allocation order and flatter the cache) and a million absent IDs.
struct IndexFixture {
    repo::Index index;
    std::vector<Id> present;
    std::vector<Id> absent;
};

Id random_id(std::mt19937_64& gen) {
    Id id;
    for (size_t i = 0; i < id.bytes.size(); i += 8) {
        uint64_t v = gen();
        for (size_t j = 0; j < 8; ++j) id.bytes[i + j] = static_cast<uint8_t>(v >> (8 * j));
    }
    return id;
}

IndexFixture make_index_fixture() {
    IndexFixture f;
    std::mt19937_64 gen(3);
    f.present.reserve(k_index_entries);
    Id pack;
    for (size_t i = 0; i < k_index_entries; ++i) {
        if (i % 16 == 0) pack = random_id(gen);
        repo::PackEntry e;
        e.id = random_id(gen);
        e.offset = static_cast<uint32_t>(repo::k_pack_header_size + (i % 16) * (k_chunk_size + 29));
        e.length = static_cast<uint32_t>(k_chunk_size + 29);
        e.raw_length = static_cast<uint32_t>(k_chunk_size);
        f.index.add(pack, e);
        f.present.push_back(e.id);
    }
    // Fisher-Yates with raw generator output, for the same order on every standard library.
    for (size_t i = f.present.size() - 1; i > 0; --i)
        std::swap(f.present[i], f.present[gen() % (i + 1)]);
    f.absent.reserve(k_index_entries);
    for (size_t i = 0; i < k_index_entries; ++i) f.absent.push_back(random_id(gen));
    return f;
}

const IndexFixture& index_fixture() {
    static const IndexFixture f = make_index_fixture();
    return f;
}

void index_find(benchmark::State& state, bool present) {
    const IndexFixture& f = index_fixture();
    const std::vector<Id>& probes = present ? f.present : f.absent;
    size_t i = 0, found = 0;
    for (auto _ : state) {
        const repo::Location* loc = f.index.find(probes[i]);
        found += loc != nullptr;
        benchmark::DoNotOptimize(loc);
        if (++i == probes.size()) i = 0;
    }
    if (found != (present ? static_cast<size_t>(state.iterations()) : 0)) {
        state.SkipWithError("index_find: wrong number of hits");
        return;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.counters["entries"] = static_cast<double>(f.index.size());
}
BENCHMARK_CAPTURE(index_find, present, true);
BENCHMARK_CAPTURE(index_find, absent, false);

}  // namespace
}  // namespace coffer::bench

// Our own main rather than benchmark_main: crypto::init() must run before any benchmark.
int main(int argc, char** argv) {
    if (coffer::Status st = coffer::crypto::init(); !st.ok()) {
        std::fprintf(stderr, "coffer_micro: %s\n", st.to_string().c_str());
        return 1;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

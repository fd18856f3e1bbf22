// The s3 source: every object of a bucket (or of a prefix in it), with its key, content type
// and user metadata. Backup streams the objects' bytes back to back into "objects.bin" (so
// unchanged objects deduplicate) and writes "manifest.json" after them: key, size, SHA-256, MD5,
// content type and metadata of each, in the order of the stream. Restore puts every object of
// the snapshot back and only then removes the objects it does not have, so a restore that
// fails part-way leaves more objects, never fewer.
//
// S3 has no snapshots: each object is read atomically, but objects written during the backup
// may or may not be in it. Objects are held in memory one at a time (S3's single PUT limit,
// 5 GiB, bounds them).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "coffer/crypto/crypto.h"
#include "coffer/restore/restore.h"
#include "coffer/s3/client.h"
#include "coffer/s3/url.h"
#include "coffer/source/source.h"
#include "coffer/util/file.h"

namespace coffer::source {

namespace {

using json = nlohmann::json;

Result<std::unique_ptr<s3::Client>> client_for(const config::SourceConfig& src,
                                               const s3::Location& where) {
    s3::Options o;
    o.endpoint = where.endpoint;
    o.access_key_id = src.access_key_id;
    o.secret_access_key = src.secret_access_key;
    o.region = src.region;
    return s3::Client::create(std::move(o));
}

std::string key_in(const s3::Location& where, const std::string& relative) {
    return where.prefix.empty() ? relative : where.prefix + "/" + relative;
}

// Keys below the location, relative to its prefix.
Result<std::vector<s3::ListEntry>> list_relative(s3::Client& c, const s3::Location& where) {
    std::string prefix = where.prefix.empty() ? "" : where.prefix + "/";
    TRY_ASSIGN(auto all, c.list(where.bucket, prefix));
    for (auto& e : all) e.key = e.key.substr(prefix.size());
    return all;
}

// Everything one backup of the source shares between its entries and its finish().
struct BucketDump {
    std::unique_ptr<s3::Client> client;
    s3::Location where;
    json objects = json::array();
    Status status = ok_status();
    std::thread writer;

    ~BucketDump() {
        if (writer.joinable()) writer.join();
    }

    // Runs on the writer thread: fetches each object and writes its bytes to fd.
    void run(int fd) {
        auto listed = list_relative(*client, where);
        if (!listed.ok()) status = listed.status();
        for (const auto& e : listed.ok() ? *listed : std::vector<s3::ListEntry>{}) {
            auto object = client->get(where.bucket, key_in(where, e.key));
            if (!object.ok()) {
                // Deleted between the listing and now: it is simply not in this backup.
                if (object.status().code() == Code::not_found) continue;
                status = object.status();
                break;
            }
            const auto& o = *object;
            objects.push_back({{"key", e.key},
                               {"size", o.data.size()},
                               {"sha256", crypto::sha256(o.data).hex()},
                               {"md5", to_hex(crypto::md5(o.data))},
                               {"content_type", o.meta.content_type},
                               {"metadata", o.meta.metadata}});
            status = write_all(fd, o.data, "objects stream");
            if (!status.ok()) break;
        }
        ::close(fd);
    }
};

Result<json> read_manifest(repo::Repository& repository, Id tree, const std::string& source) {
    TRY_ASSIGN(repo::Node node, restore::find_node(repository, tree, "/manifest.json"));
    TRY_ASSIGN(Bytes bytes, restore::read_all(repository, node));
    json j = json::parse(as_chars(bytes), nullptr, false);
    if (j.is_discarded() || !j.contains("objects") || !j["objects"].is_array())
        return corruption("source '" + source + "': manifest.json is damaged");
    return j;
}

// Calls each(object, bytes) for every object of the snapshot, reading objects.bin once.
Status for_each_object(repo::Repository& repository, Id tree, const json& manifest,
                       const std::function<Status(const json&, ByteView)>& each) {
    TRY_ASSIGN(repo::Node node, restore::find_node(repository, tree, "/objects.bin"));
    const auto& objects = manifest["objects"];
    size_t index = 0;
    Bytes pending;
    size_t used = 0;  // bytes of pending already handed out; compacted once per call
    auto drain = [&]() -> Status {
        while (index < objects.size() &&
               pending.size() - used >= objects[index]["size"].get<size_t>()) {
            size_t n = objects[index]["size"].get<size_t>();
            ByteView data(pending.data() + used, n);
            if (crypto::sha256(data).hex() != objects[index]["sha256"].get<std::string>())
                return integrity_error("object " + objects[index]["key"].get<std::string>() +
                                       " does not match its recorded SHA-256");
            TRY(each(objects[index], data));
            used += n;
            ++index;
        }
        pending.erase(pending.begin(), pending.begin() + static_cast<ptrdiff_t>(used));
        used = 0;
        return ok_status();
    };
    TRY(restore::read_contents(repository, node, [&](ByteView d) {
        append(pending, d);
        return drain();
    }));
    TRY(drain());
    if (index != objects.size() || pending.size() != used)
        return corruption("objects.bin does not match manifest.json");
    return ok_status();
}

// A key as a relative path below a directory: no empty, "." or ".." components.
bool safe_relative_path(const std::string& key) {
    if (key.empty() || key.front() == '/') return false;
    size_t pos = 0;
    while (pos <= key.size()) {
        size_t end = key.find('/', pos);
        if (end == std::string::npos) end = key.size();
        std::string part = key.substr(pos, end - pos);
        if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string::npos)
            return false;
        pos = end + 1;
    }
    return true;
}

Result<std::vector<Check>> write_objects_to_dir(repo::Repository& repository,
                                                const RestoreRequest& r, const json& manifest) {
    const auto& src = *r.source;
    TRY(make_dirs(r.target_dir + "/objects", 0700));
    size_t written = 0, markers = 0;
    std::vector<std::string> not_written;
    TRY(for_each_object(repository, r.tree, manifest, [&](const json& o, ByteView data) {
        std::string key = o["key"];
        // A console's "folder/" marker: an empty object that is only a directory.
        if (!key.empty() && key.back() == '/' && data.empty()) {
            markers++;
            return ok_status();
        }
        // Keys that are no safe relative path, or that clash with another ("a" and "a/b"),
        // are reported rather than stopping the other objects.
        if (!safe_relative_path(key)) {
            not_written.push_back(key);
            return ok_status();
        }
        std::string path = r.target_dir + "/objects/" + key;
        if (!make_dirs(path.substr(0, path.rfind('/')), 0700).ok()) {
            not_written.push_back(key);
            return ok_status();
        }
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            not_written.push_back(key);
            return ok_status();
        }
        Status st = write_all(fd, data, path);
        ::close(fd);
        if (st.ok()) written++;
        return st;
    }));
    std::string manifest_path = r.target_dir + "/manifest.json";
    TRY(write_file_atomic(manifest_path, to_bytes(manifest.dump(2) + "\n"), 0600));
    std::vector<Check> checks{
        {src.name, "objects written to " + r.target_dir + "/objects", true,
         std::to_string(written) + " objects" +
             (markers ? ", " + std::to_string(markers) + " folder markers" : std::string())}};
    if (!not_written.empty())
        checks.push_back({src.name, "objects not written", false,
                          std::to_string(not_written.size()) +
                              " keys are not safe file paths or clash with another key, e.g. '" +
                              not_written.front() + "'; restore them with --into-bucket"});
    return checks;
}

}  // namespace

Result<backup::SourceInput> s3_backup(const config::SourceConfig& source) {
    auto d = std::make_shared<BucketDump>();
    TRY_ASSIGN(d->where, s3::parse_url(source.url));
    TRY_ASSIGN(d->client, client_for(source, d->where));
    backup::SourceInput in;
    in.name = source.name;
    in.type = "s3";
    in.entries.push_back({"objects.bin",
                          [d]() -> Result<int> {
                              int fds[2];
                              if (pipe2(fds, O_CLOEXEC) != 0)
                                  return errno_status("create pipe", errno);
                              int write_fd = fds[1];
                              d->writer =
                                  std::thread([d = d.get(), write_fd] { d->run(write_fd); });
                              return fds[0];
                          },
                          nullptr});
    in.entries.push_back({"manifest.json", nullptr, [d]() -> Result<Bytes> {
                              if (d->writer.joinable()) d->writer.join();
                              TRY(d->status.with_context("bucket " + d->where.to_string()));
                              json j = {{"url", d->where.to_string()}, {"objects", d->objects}};
                              return to_bytes(j.dump(1) + "\n");
                          }});
    in.finish = [d]() -> Status {
        if (d->writer.joinable()) d->writer.join();
        return d->status;
    };
    return in;
}

Result<std::vector<Check>> s3_restore(repo::Repository& repository, const RestoreRequest& r) {
    const auto& src = *r.source;
    TRY_ASSIGN(json manifest, read_manifest(repository, r.tree, src.name));
    if (r.into_bucket.empty() && !r.target_dir.empty())
        return write_objects_to_dir(repository, r, manifest);
    const bool destructive = r.into_bucket.empty();
    TRY_ASSIGN(s3::Location where, s3::parse_url(destructive ? src.url : r.into_bucket));
    TRY_ASSIGN(auto client, client_for(src, where));
    if (!destructive) {
        TRY_ASSIGN(s3::Location live, s3::parse_url(src.url));
        auto within = [](const std::string& outer, const std::string& inner) {
            return outer.empty() || inner == outer || inner.rfind(outer + "/", 0) == 0;
        };
        if (live.endpoint == where.endpoint && live.bucket == where.bucket &&
            (within(live.prefix, where.prefix) || within(where.prefix, live.prefix)))
            return invalid_argument("--into-bucket " + where.to_string() + " overlaps the live " +
                                    live.to_string() +
                                    ": name a bucket or prefix outside it (a restore there would "
                                    "be backed up and later deleted as part of the live data)");
        TRY(client->create_bucket(where.bucket));
        TRY_ASSIGN(auto there, list_relative(*client, where));
        if (!there.empty())
            return already_exists("--into-bucket " + where.to_string() + " holds " +
                                  std::to_string(there.size()) +
                                  " objects: name an empty bucket or prefix");
    }
    // A recorded key with "." or ".." segments would land outside the prefix on servers that
    // normalise paths; such an object is not put back anywhere.
    for (const auto& o : manifest["objects"]) {
        std::string key = o.value("key", "");
        std::string padded = "/" + key + "/";
        if (padded.find("/../") != std::string::npos || padded.find("/./") != std::string::npos)
            return invalid_argument("source '" + src.name + "': object key '" + key +
                                    "' has '.' or '..' segments; restore it with --target DIR");
    }
    // Put everything back first; remove what the snapshot does not have last.
    std::set<std::string> keys;
    size_t put = 0;
    TRY(for_each_object(repository, r.tree, manifest, [&](const json& o, ByteView data) {
            s3::PutOptions options;
            options.content_type = o.value("content_type", "application/octet-stream");
            if (options.content_type.empty()) options.content_type = "application/octet-stream";
            options.metadata = o.value("metadata", std::map<std::string, std::string>{});
            keys.insert(o["key"].get<std::string>());
            put++;
            return client->put(where.bucket, key_in(where, o["key"]), data, options);
        }).with_context("source '" + src.name + "'"));
    TRY_ASSIGN(auto now, list_relative(*client, where));
    size_t removed = 0;
    for (const auto& e : now)
        if (!keys.count(e.key)) {
            TRY(client->remove(where.bucket, key_in(where, e.key)));
            removed++;
        }

    // Check: exactly the snapshot's keys, each with the recorded size and MD5 (the ETag of a
    // single-part upload), content type and metadata.
    TRY_ASSIGN(auto after, list_relative(*client, where));
    std::map<std::string, s3::ListEntry> listed;
    for (auto& e : after) listed[e.key] = e;
    size_t good = 0;
    std::string first_bad;
    for (const auto& o : manifest["objects"]) {
        std::string key = o["key"];
        auto it = listed.find(key);
        std::string problem;
        if (it == listed.end())
            problem = "missing";
        else if (it->second.size != o["size"].get<uint64_t>())
            problem = "size " + std::to_string(it->second.size);
        else if (it->second.etag != o["md5"].get<std::string>())
            problem = "ETag " + it->second.etag + " is not the MD5 recorded";
        if (problem.empty()) {
            auto meta = client->head(where.bucket, key_in(where, key));
            if (!meta.ok())
                problem = meta.status().message();
            else if (meta->metadata !=
                     o.value("metadata", json::object()).get<std::map<std::string, std::string>>())
                problem = "metadata differs";
            else if (meta->content_type != o.value("content_type", ""))
                problem = "content type " + meta->content_type;
        }
        if (problem.empty())
            good++;
        else if (first_bad.empty())
            first_bad = key + ": " + problem;
    }
    size_t recorded = manifest["objects"].size();
    std::vector<Check> checks;
    checks.push_back({src.name, "objects", good == recorded && listed.size() == recorded,
                      std::to_string(listed.size()) + " objects in " + where.to_string() + ", " +
                          std::to_string(recorded) + " recorded, " + std::to_string(good) +
                          " with matching checksum and metadata" +
                          (first_bad.empty() ? "" : " (first mismatch: " + first_bad + ")")});
    checks.push_back({src.name, "put back", true,
                      std::to_string(put) + " objects written, " + std::to_string(removed) +
                          " not in the snapshot removed"});
    return checks;
}

Status s3_empty_scratch(const config::SourceConfig& source, const std::string& url) {
    TRY_ASSIGN(s3::Location where, s3::parse_url(url));
    std::string last = where.prefix.substr(where.prefix.rfind('/') + 1);
    if (!last.starts_with(k_scratch_prefix_prefix))
        return invalid_argument("refusing to empty " + where.to_string() +
                                ": only coffer-drill-* scratch prefixes are emptied");
    TRY_ASSIGN(auto client, client_for(source, where));
    auto objects = list_relative(*client, where);
    if (!objects.ok() && objects.status().code() == Code::not_found) return ok_status();
    TRY(objects.status());
    for (const auto& e : *objects) {
        Status st = client->remove(where.bucket, key_in(where, e.key));
        if (!st.ok() && st.code() != Code::not_found) return st;
    }
    return ok_status();
}

std::string s3_describe(const config::SourceConfig& source) {
    auto where = s3::parse_url(source.url);
    if (!where.ok()) return "(invalid url)";
    auto client = client_for(source, *where);
    if (!client.ok()) return where->to_string() + " (" + client.status().message() + ")";
    auto objects = list_relative(**client, *where);
    if (!objects.ok())
        return where->to_string() + " (unreachable: " + objects.status().message() + ")";
    uint64_t bytes = 0;
    for (const auto& e : *objects) bytes += e.size;
    return where->to_string() + ": " + std::to_string(objects->size()) + " objects, " +
           std::to_string(bytes) + " bytes";
}

}  // namespace coffer::source

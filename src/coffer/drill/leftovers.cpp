#include "coffer/drill/leftovers.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>

#include "coffer/source/pg.h"
#include "coffer/source/source.h"
#include "coffer/util/file.h"

namespace coffer::drill {

namespace {

using json = nlohmann::json;

// The drill server as the record names it: user, host and port, without the database.
std::string server_of(const config::SourceConfig& source) {
    auto target = source::pg::parse_dsn(source.drill_dsn_or_dsn());
    if (!target.ok()) return "";
    std::string d = target->describe();
    return d.substr(0, d.rfind('/'));
}

bool digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

bool is_drill_id(std::string_view s) {
    if (s.size() != 8) return false;
    for (char c : s)
        if (!std::isxdigit(static_cast<unsigned char>(c)) ||
            std::isupper(static_cast<unsigned char>(c)))
            return false;
    return true;
}

// The source an entry names, when it still is what the drill used; else why not.
Result<const config::SourceConfig*> source_for(const config::SetConfig* set, const json& entry,
                                               const std::string& id, bool database) {
    const std::string name = entry.at("source").get<std::string>();
    const config::SourceConfig* src = set ? set->find_source(name) : nullptr;
    if (!src) return not_found("its source '" + name + "' is no longer in the config");
    if (database) {
        const std::string db = entry.at("name").get<std::string>();
        const std::string own = std::string(source::k_scratch_database_prefix) + id;
        if (!(db == own || (db.starts_with(own + "_") && digits(db.substr(own.size() + 1)))))
            return invalid_argument("'" + db + "' is not a name this drill gave");
        if (src->type != config::SourceType::postgres ||
            server_of(*src) != entry.at("server").get<std::string>())
            return invalid_argument("source '" + name + "' no longer names the drill server " +
                                    entry.at("server").get<std::string>());
    } else if (src->type != config::SourceType::s3 ||
               scratch_prefix_url(*src, id) != entry.at("url").get<std::string>()) {
        return invalid_argument("source '" + name + "' no longer has the drill_url of " +
                                entry.at("url").get<std::string>());
    }
    return src;
}

}  // namespace

std::string scratch_prefix_url(const config::SourceConfig& source, const std::string& id) {
    std::string url = source.drill_url;
    while (url.ends_with("/")) url.pop_back();
    return url + "/" + std::string(source::k_scratch_prefix_prefix) + id;
}

Result<std::unique_ptr<Record>> Record::create(const std::string& dir, const std::string& id,
                                               const std::string& set,
                                               const std::string& scratch_dir, bool keep) {
    TRY(make_dirs(dir, 0700));
    const std::string lock = dir + "/" + id + ".lock";
    int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return errno_status("create " + lock, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        Status st = errno_status("lock " + lock, errno);
        ::close(fd);
        return st;
    }
    std::unique_ptr<Record> r(new Record(dir, id, fd,
                                         {{"id", id},
                                          {"set", set},
                                          {"keep", keep},
                                          {"scratch_dir", scratch_dir},
                                          {"databases", json::array()},
                                          {"prefixes", json::array()}}));
    if (Status st = r->save(); !st.ok()) {
        r->unlink_files();
        return st;
    }
    return r;
}

Record::~Record() {
    if (m_lock_fd >= 0) ::close(m_lock_fd);
}

Status Record::save() const {
    return write_file_atomic(m_dir + "/" + m_id + ".json", as_bytes(m_made.dump() + "\n"), 0600);
}

void Record::unlink_files() const {
    ::unlink((m_dir + "/" + m_id + ".json").c_str());
    ::unlink((m_dir + "/" + m_id + ".lock").c_str());
}

Status Record::add_database(const config::SourceConfig& source, const std::string& name) {
    m_made["databases"].push_back(
        {{"source", source.name}, {"server", server_of(source)}, {"name", name}});
    return save();
}

Status Record::add_prefix(const config::SourceConfig& source, const std::string& url) {
    m_made["prefixes"].push_back({{"source", source.name}, {"url", url}});
    return save();
}

void Record::forget() {
    unlink_files();
}

std::vector<std::string> Record::remove_all(const config::SetConfig& set) {
    return remove_recorded(&set);
}

std::vector<std::string> Record::remove_recorded(const config::SetConfig* set) {
    std::vector<std::string> problems;
    for (const auto& e : m_made.at("databases")) {
        const std::string name = e.at("name").get<std::string>();
        auto src = source_for(set, e, m_id, true);
        Status st = src.ok() ? source::postgres_drop_scratch(**src, name) : src.status();
        if (!st.ok()) problems.push_back("scratch database " + name + ": " + st.message());
    }
    for (const auto& e : m_made.at("prefixes")) {
        const std::string url = e.at("url").get<std::string>();
        auto src = source_for(set, e, m_id, false);
        Status st = src.ok() ? source::s3_empty_scratch(**src, url) : src.status();
        if (!st.ok()) problems.push_back("scratch prefix " + url + ": " + st.message());
    }
    // The scratch directory, when it is still there (a private /tmp is gone after a stop):
    // only one of this drill's name, a real directory of this user.
    const std::string dir = m_made.at("scratch_dir").get<std::string>();
    struct stat st {};
    if (std::filesystem::path(dir).filename() !=
        std::string(source::k_scratch_prefix_prefix) + m_id) {
        problems.push_back("scratch directory " + dir + " is not a name this drill gave");
    } else if (::lstat(dir.c_str(), &st) == 0) {
        std::error_code ec;
        if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
            problems.push_back("scratch directory " + dir + " is not a directory of this user");
        else if (std::filesystem::remove_all(dir, ec); ec)
            problems.push_back("scratch directory " + dir + ": " + ec.message());
    }
    if (problems.empty()) unlink_files();
    return problems;
}

Sweep sweep(const config::Config& config, const std::string& dir) {
    Sweep out;
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        const std::string file = it->path().filename().string();
        if (!file.ends_with(".json")) continue;
        const std::string id = file.substr(0, file.size() - 5);
        if (!is_drill_id(id)) continue;
        const std::string record_path = dir + "/" + file, lock = dir + "/" + id + ".lock";
        int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            out.problems.push_back("drill record " + record_path + ": cannot open its lock");
            continue;
        }
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // that drill is running
            ::close(fd);
            continue;
        }
        auto bytes = read_file(record_path);
        if (!bytes.ok() && bytes.status().code() == Code::not_found) {
            ::unlink(lock.c_str());  // it finished between the listing and the lock
            ::close(fd);
            continue;
        }
        const std::string hint = ": check for " + std::string(source::k_scratch_database_prefix) +
                                 id + "* databases and " +
                                 std::string(source::k_scratch_prefix_prefix) + id +
                                 " prefixes, remove them, then delete the record";
        json made = bytes.ok() ? json::parse(as_chars(*bytes), nullptr, false) : json();
        if (!made.is_object()) {
            out.problems.push_back("drill record " + record_path + " is unreadable" + hint);
            ::close(fd);
            continue;
        }
        Record r(dir, id, fd, made);  // owns the lock from here
        try {
            if (made.at("keep").get<bool>()) continue;
            auto problems = r.remove_recorded(config.find_set(made.at("set").get<std::string>()));
            for (const auto& p : problems) out.problems.push_back("an interrupted drill left " + p);
            if (problems.empty())
                out.removed.push_back(
                    "removed what an interrupted drill left: " +
                    made.at("scratch_dir").get<std::string>() + ", " +
                    std::to_string(made.at("databases").size()) + " scratch database(s), " +
                    std::to_string(made.at("prefixes").size()) + " scratch prefix(es)");
        } catch (const json::exception&) {
            out.problems.push_back("drill record " + record_path + " is malformed" + hint);
        }
    }
    return out;
}

}  // namespace coffer::drill

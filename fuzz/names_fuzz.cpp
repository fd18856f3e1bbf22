// Object and entry names: store::validate_name (every store driver's gate), repo::valid_node_name
// (what decode_tree and restore accept as one path component), and LocalStore on a scratch
// directory.
//
// Checks: both validators agree with a reference written from their documentation; a valid
// object name is made of valid node names, and joined under a root never leaves it; a tree entry
// decodes exactly when its name is valid; LocalStore refuses invalid names and stores a valid one
// at root/name and nowhere else.
#include <filesystem>
#include <string>

#include "coffer/repo/tree.h"
#include "coffer/store/local/local_store.h"
#include "coffer/store/store.h"
#include "fuzz_common.h"

using namespace coffer;

namespace {

bool ref_node_name(std::string_view s) {
    return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
           s.find('\0') == std::string_view::npos;
}

bool ref_object_name(std::string_view s) {
    if (s.empty() || s.find('\\') != std::string_view::npos) return false;
    size_t start = 0;
    for (;;) {
        size_t end = s.find('/', start);
        std::string_view part = s.substr(start, end == std::string_view::npos ? end : end - start);
        if (!ref_node_name(part)) return false;
        if (end == std::string_view::npos) return true;
        start = end + 1;
    }
}

struct Scratch {
    std::string dir = fuzz::fresh_dir();
    ~Scratch() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

void local_store(const std::string& name, bool valid) {
    Scratch s;
    auto st = store::LocalStore::create(s.dir + "/root");
    FUZZ_CHECK_MSG(st.ok(), st.status().to_string());
    Status put = (*st)->put(name, as_bytes("x"));
    if (!valid) {
        FUZZ_CHECK_MSG(!put.ok() && put.code() == Code::invalid_argument,
                       "LocalStore took an invalid name");
        FUZZ_CHECK(!(*st)->get(name).ok());
    } else if (put.ok()) {
        auto got = (*st)->get(name);
        FUZZ_CHECK(got.ok() && got->size() == 1 && (*got)[0] == 'x');
        std::error_code ec;
        FUZZ_CHECK(std::filesystem::is_regular_file(s.dir + "/root/" + name, ec));
        auto listed = (*st)->list("");
        FUZZ_CHECK(listed.ok() && listed->size() == 1 && (*listed)[0].name == name);
    }
    // Whatever happened, only root/ exists in the scratch directory.
    size_t entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(s.dir)) {
        FUZZ_CHECK_MSG(e.path().filename() == "root", "LocalStore wrote outside its root");
        ++entries;
    }
    FUZZ_CHECK(entries == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::init();
    std::string name(reinterpret_cast<const char*>(data), size);

    bool node_ok = repo::valid_node_name(name);
    FUZZ_CHECK_MSG(node_ok == ref_node_name(name), "valid_node_name disagrees with its contract");
    Status st = store::validate_name(name);
    bool object_ok = st.ok();
    FUZZ_CHECK_MSG(object_ok == ref_object_name(name),
                   "validate_name disagrees with its contract: " + st.to_string());
    if (!object_ok) FUZZ_CHECK(st.code() == Code::invalid_argument);
    if (node_ok && name.find('\\') == std::string::npos) FUZZ_CHECK(object_ok);

    if (object_ok) {
        std::filesystem::path root = "/srv/coffer/root";
        std::string joined = (root / name).lexically_normal().string();
        FUZZ_CHECK_MSG(joined.rfind("/srv/coffer/root/", 0) == 0, "escapes the root: " + joined);
    }

    // A tree with one file entry of that name decodes exactly when the name is valid.
    repo::Tree t;
    repo::Node n;
    n.name = name;
    t.nodes.push_back(n);
    auto decoded = repo::decode_tree(repo::encode_tree(t), "fuzz");
    FUZZ_CHECK(decoded.ok() == node_ok);

    if (size <= 512 && name.find("/.tmp-") == std::string::npos && name.rfind(".tmp-", 0) != 0)
        local_store(name, object_ok);
    return 0;
}

// LocalStore: a Store on a local directory.
//
// put() writes "<dir>/.tmp-<random>" beside the final name, fsyncs it, renames it into place
// (renameat2 RENAME_NOREPLACE for create_only; falls back to link()+unlink() where the
// filesystem lacks it), then fsyncs the directory, creating and fsyncing missing parent
// directories first. A crash therefore never leaves a partial object under its final name;
// stray ".tmp-*" files are ignored by list() and may be removed by anyone.
// Thread-safe. Objects are created with mode 0600 and directories 0700: the repository is
// opaque, but its size pattern is still nobody else's business.
#pragma once

#include "coffer/store/store.h"

namespace coffer::store {

class LocalStore final : public Store {
public:
    // Opens an existing directory. Code::not_found if it does not exist.
    static Result<std::unique_ptr<LocalStore>> open(std::string root);
    // Creates the directory (and parents) if needed, then opens it.
    static Result<std::unique_ptr<LocalStore>> create(std::string root);

    Status put(std::string_view name, ByteView data, PutMode mode) override;
    using Store::put;
    Result<Bytes> get(std::string_view name) override;
    Result<Bytes> get_range(std::string_view name, uint64_t offset, uint64_t length) override;
    Result<ObjectInfo> stat(std::string_view name) override;
    Result<std::vector<ObjectInfo>> list(std::string_view prefix) override;
    Status remove(std::string_view name) override;
    Capabilities capabilities() const override { return {true, true}; }
    std::string location() const override { return m_root; }

private:
    explicit LocalStore(std::string root) : m_root(std::move(root)) {}
    // m_root + "/" + name.
    std::string path_of(std::string_view name) const;
    // validate_name() plus: no component may start with ".tmp-" (reserved for temp files).
    static Status check_name(std::string_view name);
    // Appends the objects under the open directory dirfd (taking ownership of it).
    Status walk(int dirfd, const std::string& rel, std::string_view partial,
                std::vector<ObjectInfo>& out) const;

    std::string m_root;
};

}  // namespace coffer::store

// Recovery shares: the recovery key split K-of-N (crypto/shamir.h) so that no one person can
// lose it or misuse it, in a printed form each holder can keep, type back and have checked.
//
// A share's text is "crs1-<K>of<N>-<index>-<split id>-" then 9 groups of 8 hex digits: the 32
// bytes of the share and a 4-byte checksum over everything before it, so a mistyped share is
// caught on its own, naming it. The split id (4 random bytes, the same on all N shares of one
// split) tells shares of two different splits of one key apart before they are combined. A
// share file holds the share line and '#' comment lines, which are ignored. Whatever K-1 shares
// say, the key stays unknown; K shares of one split give it back, and the caller checks it
// against the repository (RecoveryKey::check_matches). Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coffer/repo/keys.h"

namespace coffer::repo {

struct RecoveryShare {
    int k = 0;
    int n = 0;
    uint8_t index = 0;  // 1..n
    Bytes split_id;     // 4 bytes
    SecretBytes value;  // 32 bytes

    std::string to_text() const;
    // Accepts the printed form with any whitespace and case. Code::invalid_argument "recovery
    // share is malformed: ..." for a wrong shape or checksum.
    static Result<RecoveryShare> parse(std::string_view text);
    // A share file: comment lines ('#') and the share line. Errors name the file.
    static Result<RecoveryShare> load(const std::string& path);
};

// "2-of-3" -> {2, 3}; Code::invalid_argument unless 2 <= K <= N <= 255.
Result<std::pair<int, int>> parse_k_of_n(std::string_view text);

// N shares of key, any K of which recover it.
Result<std::vector<RecoveryShare>> split_recovery_key(const RecoveryKey& key, int k, int n);

// The key of K or more shares of one split. Code::invalid_argument naming the problem when
// they are too few, of different splits, or one is given twice. Shares of one split that do
// not belong together cannot be told apart from right ones here: check the key it returns.
Result<RecoveryKey> recover_from_shares(const std::vector<RecoveryShare>& shares);

// The text of a share file for the repository with this id: how to use it, then the share.
std::string share_file_text(const RecoveryShare& share, const std::string& repository_id);

}  // namespace coffer::repo

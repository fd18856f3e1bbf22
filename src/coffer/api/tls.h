// The HTTPS server's certificate: the operator's (tls_cert and tls_key in [server]), or one
// made on first start and kept in the state directory (<state dir>/tls/cert.pem and key.pem,
// the key 0600): ECDSA P-256, self-signed, for localhost, 127.0.0.1 and ::1 plus the listen
// host, valid ten years. Its SHA-256 fingerprint is what a client pins (curl --pinnedpubkey
// takes the key's; browsers show the certificate's) and what `coffer serve` prints.
// Plain functions; thread-safe.
#pragma once

#include <string>

#include "coffer/util/status.h"

namespace coffer::api {

struct Certificate {
    std::string cert_path, key_path;
    std::string fingerprint;  // SHA-256 of the DER certificate, "AB:CD:..." (as browsers show)
    bool generated = false;   // made by this call
};

// cert_path and key_path both empty: the generated pair under state_dir (made when missing).
// Both given: checked to load and to match. One alone: Code::invalid_argument.
Result<Certificate> ensure_certificate(const std::string& cert_path, const std::string& key_path,
                                       const std::string& state_dir,
                                       const std::string& listen_host);

// The fingerprint of the PEM certificate at path.
Result<std::string> certificate_fingerprint(const std::string& path);

}  // namespace coffer::api

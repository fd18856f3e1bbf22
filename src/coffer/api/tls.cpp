#include "coffer/api/tls.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include "coffer/util/file.h"

namespace coffer::api {

namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
    void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

std::string ssl_error() {
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown OpenSSL error";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

bool file_exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

Result<X509Ptr> load_cert(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return errno_status("open TLS certificate " + path, errno);
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!x)
        return invalid_argument("TLS certificate " + path + " is not a PEM certificate (" +
                                ssl_error() + ")");
    return X509Ptr(x);
}

Result<PkeyPtr> load_key(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return errno_status("open TLS key " + path, errno);
    EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!k)
        return invalid_argument("TLS key " + path + " is not an unencrypted PEM private key (" +
                                ssl_error() + ")");
    return PkeyPtr(k);
}

std::string fingerprint_of(X509* x) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509_digest(x, EVP_sha256(), md, &n);
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
        if (i) out += ':';
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

Status add_ext(X509* x, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || !X509_add_ext(x, ext.get(), -1))
        return internal_error("TLS certificate extension " + value + ": " + ssl_error());
    return ok_status();
}

bool is_ip(const std::string& h) {
    return !h.empty() && (h.find(':') != std::string::npos ||
                          h.find_first_not_of("0123456789.") == std::string::npos);
}

Status generate(const std::string& cert_path, const std::string& key_path,
                const std::string& listen_host) {
    PkeyPtr key(EVP_EC_gen("P-256"));
    if (!key) return internal_error("generate a TLS key: " + ssl_error());
    X509Ptr x(X509_new());
    if (!x) return internal_error("make a TLS certificate: " + ssl_error());
    X509_set_version(x.get(), 2);
    unsigned char serial[16];
    FILE* r = std::fopen("/dev/urandom", "r");
    if (!r || std::fread(serial, 1, sizeof serial, r) != sizeof serial) {
        if (r) std::fclose(r);
        return io_error("read /dev/urandom for a certificate serial number");
    }
    std::fclose(r);
    serial[0] &= 0x7f;  // a positive number
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 10L * 365 * 24 * 3600);
    X509_set_pubkey(x.get(), key.get());
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("coffer"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("coffer serve"), -1, -1, 0);
    X509_set_issuer_name(x.get(), name);
    std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
    if (!listen_host.empty() && listen_host != "localhost" && listen_host != "127.0.0.1" &&
        listen_host != "::1" && listen_host != "0.0.0.0" && listen_host != "::")
        san += (is_ip(listen_host) ? ",IP:" : ",DNS:") + listen_host;
    TRY(add_ext(x.get(), NID_subject_alt_name, san));
    TRY(add_ext(x.get(), NID_basic_constraints, "critical,CA:FALSE"));
    TRY(add_ext(x.get(), NID_key_usage, "critical,digitalSignature"));
    TRY(add_ext(x.get(), NID_ext_key_usage, "serverAuth"));
    if (!X509_sign(x.get(), key.get(), EVP_sha256()))
        return internal_error("sign the TLS certificate: " + ssl_error());

    auto pem = [](auto write) -> Result<std::string> {
        BIO* bio = BIO_new(BIO_s_mem());
        if (!bio || !write(bio)) {
            BIO_free(bio);
            return internal_error("encode PEM: " + ssl_error());
        }
        char* data = nullptr;
        long n = BIO_get_mem_data(bio, &data);
        std::string out(data, static_cast<size_t>(n));
        BIO_free(bio);
        return out;
    };
    TRY_ASSIGN(std::string key_pem, pem([&](BIO* b) {
                   return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr,
                                                   nullptr) == 1;
               }));
    TRY_ASSIGN(std::string cert_pem,
               pem([&](BIO* b) { return PEM_write_bio_X509(b, x.get()) == 1; }));
    Status st = write_file_atomic(key_path, as_bytes(key_pem), 0600);
    secure_wipe(key_pem.data(), key_pem.size());
    TRY(st.with_context("write the TLS key"));
    return write_file_atomic(cert_path, as_bytes(cert_pem), 0644)
        .with_context("write the TLS certificate");
}

}  // namespace

Result<std::string> certificate_fingerprint(const std::string& path) {
    TRY_ASSIGN(X509Ptr x, load_cert(path));
    return fingerprint_of(x.get());
}

Result<Certificate> ensure_certificate(const std::string& cert_path, const std::string& key_path,
                                       const std::string& state_dir,
                                       const std::string& listen_host) {
    Certificate c;
    if (cert_path.empty() != key_path.empty())
        return invalid_argument(
            "[server] tls_cert and tls_key go together: give both, or neither for a "
            "self-signed certificate");
    if (cert_path.empty()) {
        std::string dir = state_dir + "/tls";
        c.cert_path = dir + "/cert.pem";
        c.key_path = dir + "/key.pem";
        if (!file_exists(c.cert_path) || !file_exists(c.key_path)) {
            TRY(make_dirs(dir, 0700));
            TRY(generate(c.cert_path, c.key_path, listen_host));
            c.generated = true;
        }
    } else {
        c.cert_path = cert_path;
        c.key_path = key_path;
    }
    TRY_ASSIGN(X509Ptr x, load_cert(c.cert_path));
    TRY_ASSIGN(PkeyPtr k, load_key(c.key_path));
    if (X509_check_private_key(x.get(), k.get()) != 1)
        return invalid_argument("TLS key " + c.key_path + " does not belong to certificate " +
                                c.cert_path + ": give the matching pair");
    c.fingerprint = fingerprint_of(x.get());
    return c;
}

}  // namespace coffer::api

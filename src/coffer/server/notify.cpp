#include "coffer/server/notify.h"

#include <curl/curl.h>

#include "coffer/source/process.h"

namespace coffer::server {

namespace {

size_t discard(char*, size_t size, size_t n, void*) {
    return size * n;
}

}  // namespace

Status Notifier::post(const std::string& body) {
    CURL* curl = curl_easy_init();
    if (!curl) return internal_error("webhook: curl_easy_init failed");
    struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, m_url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    // The URL may carry a token: name only the outcome, never the URL.
    if (rc != CURLE_OK) return io_error(std::string("webhook: ") + curl_easy_strerror(rc));
    if (status / 100 != 2)
        return io_error("webhook: the receiver answered " + std::to_string(status));
    return ok_status();
}

Status Notifier::notify(const nlohmann::json& event) {
    std::string body = event.dump();
    Status first = ok_status();
    if (!m_url.empty()) first = post(body);
    if (!m_command.empty()) {
        std::vector<std::string> env = {"COFFER_EVENT=" + body,
                                        "COFFER_EVENT_TYPE=" + event.value("event", ""),
                                        "COFFER_SET=" + event.value("set", "")};
        Status st = source::run_command(m_command, "on_failure command", env);
        if (first.ok()) first = st;
    }
    return first;
}

}  // namespace coffer::server

/* HTTP POST for the network channels (post.h). */
#include <curl/curl.h>

#include "post.h"

#include <errno.h>
#include <string.h>

#include "alert.h"
#include "common/curl_dl.h"

int alert_post_ready(const char *what, struct strbuf *err)
{
    const char *why = "";

    if (curl_dl_load(&why))
        return 0;
    strbuf_printf(err, "%s: needs libcurl: %s", what, why);
    return -ENOSYS;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

int alert_post(const char *what, const char *url, const char *const *headers, const char *body,
               uint32_t timeout_ms, struct strbuf *err)
{
    const struct curl_dl *cu = curl_dl_load(NULL);
    struct curl_slist *hl = NULL;
    char ebuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc;
    CURL *h;

    if (!cu) {
        alert_post_ready(what, err);
        return ALERT_RETRY;
    }
    if (!(h = cu->easy_init())) {
        strbuf_printf(err, "%s: out of memory", what);
        return ALERT_RETRY;
    }
    hl = cu->slist_append(hl, "Content-Type: application/json");
    for (size_t i = 0; headers && headers[i]; i++)
        hl = cu->slist_append(hl, headers[i]);
    cu->easy_setopt(h, CURLOPT_URL, url);
    cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    cu->easy_setopt(h, CURLOPT_POSTFIELDS, body);
    cu->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    cu->easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    cu->easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    cu->easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    cu->easy_setopt(h, CURLOPT_USERAGENT, "arthamon");
    rc = cu->easy_perform(h);
    if (rc == CURLE_OK)
        cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    cu->slist_free_all(hl);
    cu->easy_cleanup(h);
    if (rc != CURLE_OK) {
        /* libcurl's words name the host and port at most, never the path or the userinfo */
        strbuf_printf(err, "%s: %s", what, *ebuf ? ebuf : cu->easy_strerror(rc));
        return ALERT_RETRY;
    }
    if (status >= 200 && status < 300)
        return 0;
    strbuf_printf(err, "%s: the receiver answered HTTP %ld", what, status);
    if (status == 408 || status == 425 || status == 429 || status >= 500 || status < 200)
        return ALERT_RETRY;
    return ALERT_PERMANENT;
}

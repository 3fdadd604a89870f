/*
 * libcurl, loaded at run time by what needs it (the client commands, the
 * network alert channels): the binary is also the daemon, and linking libcurl
 * would map it and what it pulls in (OpenSSL, Kerberos, LDAP: about 3 MiB of
 * resident pages) into every running agent, also the many that never send a
 * webhook or an e-mail.
 *
 * curl_dl_load() loads it once (thread-safe) and fills the table; later calls
 * return the same answer. Include <curl/curl.h> before this header.
 */
#ifndef AM_COMMON_CURL_DL_H
#define AM_COMMON_CURL_DL_H

#include <curl/curl.h>

#define CURL_DL_SONAME "libcurl.so.4"

struct curl_dl {
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    const char *(*easy_strerror)(CURLcode rc);
    void (*easy_cleanup)(CURL *h);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
};

/* The table, or NULL when libcurl cannot be loaded; then *why (may be NULL)
 * says why, for one log line. */
const struct curl_dl *curl_dl_load(const char **why);

#endif

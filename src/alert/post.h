/*
 * HTTP POST for the network channels (webhook, Alertmanager), through libcurl
 * loaded at run time (common/curl_dl.h), and the classification of what came
 * back: 2xx delivered; 408, 425, 429, 5xx and transport errors transient;
 * other answers permanent (the receiver refuses this payload).
 */
#ifndef AM_ALERT_POST_H
#define AM_ALERT_POST_H

#include <stdint.h>

#include "common/strbuf.h"
#include "core/config.h"

/* headers: "Name: value" lines, NULL-terminated (may be NULL). Returns 0,
 * ALERT_RETRY or ALERT_PERMANENT with one line in err, which names the
 * channel (`what`) but never the URL (it may hold a credential). */
int alert_post(const char *what, const char *url, const char *const *headers, const char *body,
               uint32_t timeout_ms, struct strbuf *err);

/* 0 when libcurl can be loaded, else -ENOSYS with one line in err. */
int alert_post_ready(const char *what, struct strbuf *err);

#endif

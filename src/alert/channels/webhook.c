/*
 * The webhook channel: each notification POSTed as JSON (render.c's document)
 * to alerts.webhook_url, with the configured headers, an Idempotency-Key
 * header, and, when alerts.webhook_secret (or _file) is set, the signature
 *   X-Arthamon-Signature: sha256=<hex HMAC-SHA256 of the body under the secret>
 * so that the receiver can tell our notifications from forged ones.
 */
#include <errno.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "alert/post.h"
#include "alert/secret.h"

struct webhook {
    char *url;
    char *secret;   /* NULL: unsigned */
    char **headers; /* NULL-terminated, with room for ours */
    size_t n_headers;
    uint32_t timeout_ms;
};

static bool webhook_configured(const struct config *cfg)
{
    return cfg->alerts.webhook_url != NULL;
}

static void webhook_close(void *state)
{
    struct webhook *w = state;

    if (!w)
        return;
    free(w->url);
    alert_secret_free(w->secret);
    for (size_t i = 0; i < w->n_headers; i++)
        alert_secret_free(w->headers[i]); /* they often carry a token */
    free(w->headers);
    free(w);
}

static int webhook_open(const struct config *cfg, void **state, struct strbuf *err)
{
    const struct config_strlist *hl = &cfg->alerts.webhook_headers;
    struct webhook *w = calloc(1, sizeof(*w));
    int r;

    if (!w)
        return -ENOMEM;
    w->timeout_ms = cfg->alerts.timeout_ms;
    w->url = strdup(cfg->alerts.webhook_url);
    w->headers = calloc(hl->n + 4, sizeof(char *));
    if (!w->url || !w->headers) {
        webhook_close(w);
        return -ENOMEM;
    }
    for (size_t i = 0; i < hl->n; i++) {
        if (!(w->headers[i] = strdup(hl->v[i]))) {
            webhook_close(w);
            return -ENOMEM;
        }
        w->n_headers++;
    }
    r = alert_secret_load("webhook: webhook_secret_file", cfg->alerts.webhook_secret,
                          cfg->alerts.webhook_secret_file, &w->secret, err);
    if (r == 0)
        r = alert_post_ready("webhook", err);
    if (r < 0) {
        webhook_close(w);
        return r;
    }
    *state = w;
    return 0;
}

static int webhook_send(void *state, const struct notification *n, struct strbuf *err)
{
    struct webhook *w = state;
    char key_h[400], sig_h[128], ev_h[64];
    unsigned char mac[32];
    struct strbuf body;
    int r;

    strbuf_init(&body, (size_t)1 << 22);
    alert_render_json(n, &body);
    if (body.overflow) {
        strbuf_puts(err, "webhook: the notification is too large");
        strbuf_done(&body);
        return ALERT_PERMANENT;
    }
    snprintf(key_h, sizeof(key_h), "Idempotency-Key: %s", n->key);
    snprintf(ev_h, sizeof(ev_h), "X-Arthamon-Event: %s", alert_event_name(n->event));
    w->headers[w->n_headers] = key_h;
    w->headers[w->n_headers + 1] = ev_h;
    w->headers[w->n_headers + 2] = NULL;
    if (w->secret) {
        int off = snprintf(sig_h, sizeof(sig_h), "X-Arthamon-Signature: sha256=");
        if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, w->secret, strlen(w->secret), body.buf, body.len,
                             mac) < 0) {
            strbuf_puts(err, "webhook: cannot sign the notification");
            strbuf_done(&body);
            return ALERT_RETRY;
        }
        for (size_t i = 0; i < sizeof(mac); i++)
            off += snprintf(sig_h + off, sizeof(sig_h) - (size_t)off, "%02x", mac[i]);
        w->headers[w->n_headers + 2] = sig_h;
        w->headers[w->n_headers + 3] = NULL;
    }
    r = alert_post("webhook", w->url, (const char *const *)w->headers, body.buf, w->timeout_ms,
                   err);
    w->headers[w->n_headers] = NULL;
    explicit_bzero(mac, sizeof(mac));
    strbuf_done(&body);
    return r;
}

const struct alert_channel_ops alert_webhook = {
    .name = "webhook",
    .configured = webhook_configured,
    .open = webhook_open,
    .send = webhook_send,
    .close = webhook_close,
};

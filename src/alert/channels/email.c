/*
 * The e-mail channel: each notification as a MIME message (multipart/
 * alternative: plain text and HTML, both base64) sent through
 * alerts.smtp_url with libcurl: smtps:// is TLS from the start; smtp:// is
 * upgraded with STARTTLS, which is required when alerts.smtp_starttls is on
 * (the default). alerts.smtp_ca_file names the CA that signed the server's
 * certificate when the system's store does not have it. Authentication with
 * alerts.smtp_user and smtp_password (or smtp_password_file).
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
#include "alert/post.h"
#include "alert/secret.h"
#include "common/curl_dl.h"

struct email {
    char *url;
    char *from;
    char *to;    /* comma-separated */
    char **rcpt; /* each recipient as "<name@domain>", split from `to` once */
    size_t n_rcpt;
    char *user;
    char *password;
    char *ca_file;
    bool starttls;
    uint32_t timeout_ms;
};

static bool email_configured(const struct config *cfg)
{
    return cfg->alerts.email != NULL;
}

static void email_close(void *state)
{
    struct email *e = state;

    if (!e)
        return;
    free(e->url);
    free(e->from);
    free(e->to);
    for (size_t i = 0; i < e->n_rcpt; i++)
        free(e->rcpt[i]);
    free(e->rcpt);
    free(e->user);
    alert_secret_free(e->password);
    free(e->ca_file);
    free(e);
}

static char *dup_or_null(const char *s, bool *oom)
{
    char *d = s ? strdup(s) : NULL;

    if (s && !d)
        *oom = true;
    return d;
}

static int email_open(const struct config *cfg, void **state, struct strbuf *err)
{
    struct email *e = calloc(1, sizeof(*e));
    const char *url = cfg->alerts.smtp_url;
    bool oom = false;
    int r;

    if (!e)
        return -ENOMEM;
    if (!url || !cfg->alerts.smtp_from) {
        strbuf_puts(err, "email: alerts.smtp_url and alerts.smtp_from are needed");
        free(e);
        return -EINVAL;
    }
    /* curl says EHLO with the URL's path: give it one when the URL has none */
    if (!strchr(url + strcspn(url, ":") + 3, '/')) {
        char host[256] = "arthamon";
        size_t n = strlen(url) + sizeof(host) + 2;
        gethostname(host, sizeof(host) - 1);
        if ((e->url = malloc(n)))
            snprintf(e->url, n, "%s/%s", url, host);
        else
            oom = true;
    } else {
        e->url = dup_or_null(url, &oom);
    }
    e->from = dup_or_null(cfg->alerts.smtp_from, &oom);
    e->to = dup_or_null(cfg->alerts.email, &oom);
    e->user = dup_or_null(cfg->alerts.smtp_user, &oom);
    e->ca_file = dup_or_null(cfg->alerts.smtp_ca_file, &oom);
    e->starttls = cfg->alerts.smtp_starttls;
    e->timeout_ms = cfg->alerts.timeout_ms;
    if (!oom && !(e->rcpt = calloc(strlen(e->to) / 2 + 2, sizeof(char *))))
        oom = true;
    for (const char *p = oom ? "" : e->to; *p && !oom;) {
        size_t len = strcspn(p, ",");
        const char *a = p, *end = p + len;
        while (a < end && *a == ' ')
            a++;
        while (end > a && end[-1] == ' ')
            end--;
        if (!(e->rcpt[e->n_rcpt] = malloc((size_t)(end - a) + 3)))
            oom = true;
        else
            snprintf(e->rcpt[e->n_rcpt++], (size_t)(end - a) + 3, "<%.*s>", (int)(end - a), a);
        p += len + (p[len] == ',');
    }
    if (oom) {
        email_close(e);
        return -ENOMEM;
    }
    r = alert_secret_load("email: smtp_password_file", cfg->alerts.smtp_password,
                          cfg->alerts.smtp_password_file, &e->password, err);
    if (r == 0)
        r = alert_post_ready("email", err);
    if (r < 0) {
        email_close(e);
        return r;
    }
    *state = e;
    return 0;
}

static void base64(struct strbuf *out, const char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t col = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        char q[4];
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        strbuf_append(out, q, 4);
        if ((col += 4) >= 76) {
            strbuf_puts(out, "\r\n");
            col = 0;
        }
    }
    if (col)
        strbuf_puts(out, "\r\n");
}

/* A header value: as is when printable ASCII, else RFC 2047 UTF-8 base64 words. */
static void header_text(struct strbuf *out, const char *s)
{
    bool plain = true;

    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            plain = false;
    if (plain) {
        strbuf_puts(out, s);
        return;
    }
    /* 45 bytes per word keeps each encoded word within 78 columns */
    for (size_t i = 0, n = strlen(s); i < n; i += 45) {
        struct strbuf w;
        size_t len = n - i < 45 ? n - i : 45;
        strbuf_init(&w, 256);
        base64(&w, s + i, len);
        while (w.len && (w.buf[w.len - 1] == '\n' || w.buf[w.len - 1] == '\r'))
            w.buf[--w.len] = '\0';
        strbuf_printf(out, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", w.buf ? w.buf : "");
        strbuf_done(&w);
    }
}

static void message(const struct email *e, const struct notification *n, struct strbuf *m)
{
    char date[64], boundary[64];
    struct strbuf part;
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(boundary, sizeof(boundary), "=_arthamon_%llx", (unsigned long long)n->created_ms);
    strbuf_printf(m, "Date: %s\r\nFrom: arthamon <%s>\r\nTo: ", date, e->from);
    for (size_t i = 0; i < e->n_rcpt; i++)
        strbuf_printf(m, "%s%s", i ? ", " : "", e->rcpt[i]);
    strbuf_puts(m, "\r\nSubject: ");
    strbuf_init(&part, 1 << 16);
    alert_render_subject(n, &part);
    header_text(m, part.buf ? part.buf : "");
    strbuf_puts(m, "\r\nMessage-ID: <");
    for (const char *k = n->key; *k; k++)
        strbuf_putc(m, (strchr("<>@\\\" ", *k) || (unsigned char)*k < 0x21) ? '_' : *k);
    strbuf_printf(m, "@arthamon>\r\nX-Arthamon-Idempotency-Key: ");
    header_text(m, n->key);
    strbuf_printf(m,
                  "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; "
                  "boundary=\"%s\"\r\n\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\n",
                  boundary, boundary);
    strbuf_reset(&part);
    alert_render_text(n, &part);
    base64(m, part.buf ? part.buf : "", part.len);
    strbuf_printf(m,
                  "\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\n",
                  boundary);
    strbuf_reset(&part);
    alert_render_html(n, &part);
    base64(m, part.buf ? part.buf : "", part.len);
    strbuf_printf(m, "\r\n--%s--\r\n", boundary);
    strbuf_done(&part);
}

struct upload {
    const char *p;
    size_t left;
};

static size_t read_message(char *buf, size_t size, size_t n, void *ctx)
{
    struct upload *u = ctx;
    size_t len = size * n < u->left ? size * n : u->left;

    memcpy(buf, u->p, len);
    u->p += len;
    u->left -= len;
    return len;
}

static int email_send(void *state, const struct notification *n, struct strbuf *err)
{
    const struct curl_dl *cu = curl_dl_load(NULL);
    struct email *e = state;
    struct curl_slist *rcpt = NULL;
    char ebuf[CURL_ERROR_SIZE] = "", from[300];
    struct strbuf m;
    struct upload u;
    long code = 0;
    CURLcode rc;
    CURL *h;

    if (!cu || !(h = cu->easy_init())) {
        strbuf_puts(err, "email: libcurl is not usable");
        return ALERT_RETRY;
    }
    strbuf_init(&m, (size_t)1 << 23);
    message(e, n, &m);
    if (m.overflow) {
        cu->easy_cleanup(h);
        strbuf_done(&m);
        strbuf_puts(err, "email: the message is too large");
        return ALERT_PERMANENT;
    }
    for (size_t i = 0; i < e->n_rcpt; i++)
        rcpt = cu->slist_append(rcpt, e->rcpt[i]);
    snprintf(from, sizeof(from), "<%s>", e->from);
    u.p = m.buf;
    u.left = m.len;
    cu->easy_setopt(h, CURLOPT_URL, e->url);
    cu->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    cu->easy_setopt(h, CURLOPT_MAIL_FROM, from);
    cu->easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    cu->easy_setopt(h, CURLOPT_READFUNCTION, read_message);
    cu->easy_setopt(h, CURLOPT_READDATA, &u);
    cu->easy_setopt(h, CURLOPT_UPLOAD, 1L);
    cu->easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
    cu->easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
    cu->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cu->easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    if (e->starttls)
        cu->easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (e->ca_file)
        cu->easy_setopt(h, CURLOPT_CAINFO, e->ca_file);
    if (e->user) {
        cu->easy_setopt(h, CURLOPT_USERNAME, e->user);
        cu->easy_setopt(h, CURLOPT_PASSWORD, e->password ? e->password : "");
    }
    rc = cu->easy_perform(h);
    cu->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    cu->slist_free_all(rcpt);
    cu->easy_cleanup(h);
    strbuf_done(&m);
    if (rc == CURLE_OK)
        return 0;
    strbuf_printf(err, "email: %s", *ebuf ? ebuf : cu->easy_strerror(rc));
    if (code >= 400) /* a refusal; not the 220 before a failed TLS handshake */
        strbuf_printf(err, " (SMTP %ld)", code);
    /* a 5xx other than authentication or TLS wanted: the server refuses this message */
    if (code >= 500 && code != 530 && code != 534 && code != 535 && code != 538)
        return ALERT_PERMANENT;
    return ALERT_RETRY;
}

const struct alert_channel_ops alert_email = {
    .name = "email",
    .configured = email_configured,
    .open = email_open,
    .send = email_send,
    .close = email_close,
};

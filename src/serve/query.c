/*
 * Strict request-target parsing: see query.h.
 *
 * Everything is decoded into q->storage, which is always large enough: a
 * decoded string is never longer than its raw form, the '?' pays for the path's
 * NUL, each '&' for one parameter's NUL, and storage has HTTPQ_MAX_PARAMS + 2
 * spare bytes for the rest (a parameter without '=' needs two NULs and no '='
 * to pay for them). Writes are still bounds-checked.
 */
#include "query.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/parse.h"

/* at most this many bytes of a name the peer chose go into an error message */
#define ECHO_MAX 32

struct sink {
    char *buf;
    size_t len, cap;
};

static void set_error(struct httpq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(struct httpq *q, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(q->error, sizeof(q->error), fmt, ap);
    va_end(ap);
}

/*
 * Copies at most ECHO_MAX bytes of s into out (size outlen, at least
 * ECHO_MAX + 4) as printable ASCII that needs no escaping in JSON or in a log
 * line: anything else becomes '?'; a longer string ends in "...".
 */
static const char *echo(const char *s, char *out, size_t outlen)
{
    size_t i = 0;

    for (; s[i] && i < ECHO_MAX && i + 4 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
    }
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Percent-decodes raw[0..len) onto the end of the sink and NUL-terminates it;
 * plus_is_space: '+' means ' ' (the query, not the path). *ret_s points at the
 * decoded string in the sink.
 */
static int decode(struct httpq *q, struct sink *sk, const char *raw, size_t len, bool plus_is_space,
                  const char **ret_s)
{
    char *start = sk->buf + sk->len;
    char *o = start;

    if (len >= sk->cap - sk->len) {
        set_error(q, "request target too long");
        return -E2BIG;
    }
    for (size_t i = 0; i < len; i++) {
        char c = raw[i];

        if (c == '%') {
            int hi = i + 2 < len ? hexval(raw[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(raw[i + 2]) : -1;

            if (i + 2 >= len || hi < 0 || lo < 0) {
                set_error(q, "malformed percent-escape in request target");
                return -EINVAL;
            }
            c = (char)(hi << 4 | lo);
            if (c == '\0') {
                set_error(q, "percent-encoded NUL in request target");
                return -EINVAL;
            }
            if (c == '/' && !plus_is_space) {
                /* a proxy filtering on the raw path would not see this '/' */
                set_error(q, "percent-encoded '/' in request path");
                return -EINVAL;
            }
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        *o++ = c;
    }
    *o++ = '\0';
    sk->len = (size_t)(o - sk->buf);
    *ret_s = start;
    return 0;
}

/* One "key=value" (or "key") of the query, raw[0..len), len > 0. */
static int add_param(struct httpq *q, struct sink *sk, const char *raw, size_t len)
{
    const char *eq = memchr(raw, '=', len);
    size_t klen = eq ? (size_t)(eq - raw) : len;
    struct httpq_param *p;
    char tmp[ECHO_MAX + 4];
    int r;

    if (q->n_params >= HTTPQ_MAX_PARAMS) {
        set_error(q, "more than %d query parameters", HTTPQ_MAX_PARAMS);
        return -E2BIG;
    }
    if (klen == 0) {
        set_error(q, "query parameter without a name");
        return -EINVAL;
    }
    p = &q->params[q->n_params];
    r = decode(q, sk, raw, klen, true, &p->key);
    if (r < 0)
        return r;
    r = eq ? decode(q, sk, eq + 1, len - klen - 1, true, &p->value)
           : decode(q, sk, "", 0, true, &p->value);
    if (r < 0)
        return r;
    for (size_t i = 0; i < q->n_params; i++) {
        if (strcmp(q->params[i].key, p->key) == 0) {
            set_error(q, "parameter '%s' given twice", echo(p->key, tmp, sizeof(tmp)));
            return -EINVAL;
        }
    }
    q->n_params++;
    return 0;
}

/* Bytes that may appear raw in a request target: visible ASCII but '#'. */
static bool raw_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '#';
}

int httpq_parse(struct httpq *q, const char *target, size_t len)
{
    struct sink sk = {q->storage, 0, sizeof(q->storage)};
    const char *qm, *p, *end;
    int r;

    q->n_params = 0;
    q->error[0] = '\0';
    q->storage[0] = '\0';
    q->path = q->storage;
    if (len > HTTPQ_MAX_TARGET) {
        set_error(q, "request target longer than %d bytes", HTTPQ_MAX_TARGET);
        return -E2BIG;
    }
    if (len == 0 || target[0] != '/') {
        set_error(q, "request path must start with '/'");
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (!raw_ok((unsigned char)target[i])) {
            set_error(q, "invalid character in request target");
            return -EINVAL;
        }
    }
    end = target + len;
    qm = memchr(target, '?', len);
    r = decode(q, &sk, target, (size_t)((qm ? qm : end) - target), false, &q->path);
    if (r < 0)
        goto fail;
    for (p = qm ? qm + 1 : end; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *next = amp ? amp : end;

        /* empty pairs ("a=1&&b=2", a trailing '&', a lone '?') carry nothing */
        if (next > p) {
            r = add_param(q, &sk, p, (size_t)(next - p));
            if (r < 0)
                goto fail;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;

fail:
    q->n_params = 0;
    q->storage[0] = '\0';
    q->path = q->storage;
    return r;
}

const char *httpq_get(const struct httpq *q, const char *key)
{
    for (size_t i = 0; i < q->n_params; i++) {
        if (strcmp(q->params[i].key, key) == 0)
            return q->params[i].value;
    }
    return NULL;
}

/* A non-empty run of ASCII digits, nothing else. */
static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

/* -?(d+(.d*)?|.d+)([eE][-+]?d+)? : what parse_double (strtod) would take
 * beyond this (hex, "inf", "nan", blanks, a '+') is refused. */
static bool plain_decimal(const char *s)
{
    size_t ip = 0, fp = 0;

    if (*s == '-')
        s++;
    for (; *s >= '0' && *s <= '9'; s++)
        ip++;
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++)
            fp++;
    }
    if (ip + fp == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        size_t ep = 0;

        s++;
        if (*s == '-' || *s == '+')
            s++;
        for (; *s >= '0' && *s <= '9'; s++)
            ep++;
        if (ep == 0)
            return false;
    }
    return *s == '\0';
}

int httpq_get_u64(struct httpq *q, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *v = httpq_get(q, key);
    char tmp[ECHO_MAX + 4];
    uint64_t n;

    if (!v)
        return 0;
    if (!all_digits(v) || parse_u64(v, &n) < 0 || n < min || n > max) {
        set_error(q, "%s: expected an integer from %llu to %llu", echo(key, tmp, sizeof(tmp)),
                  (unsigned long long)min, (unsigned long long)max);
        return -EINVAL;
    }
    *out = n;
    return 1;
}

int httpq_get_double(struct httpq *q, const char *key, double min, double max, double *out)
{
    const char *v = httpq_get(q, key);
    char tmp[ECHO_MAX + 4];
    double d;

    if (!v)
        return 0;
    if (!plain_decimal(v) || parse_double(v, &d) < 0 || !(d >= min && d <= max)) {
        set_error(q, "%s: expected a number from %g to %g", echo(key, tmp, sizeof(tmp)), min, max);
        return -EINVAL;
    }
    *out = d;
    return 1;
}

int httpq_check_known(struct httpq *q, const char *const *allowed)
{
    for (size_t i = 0; i < q->n_params; i++) {
        bool known = false;
        char tmp[ECHO_MAX + 4];

        for (size_t j = 0; allowed && allowed[j] && !known; j++)
            known = strcmp(q->params[i].key, allowed[j]) == 0;
        if (!known) {
            set_error(q, "unknown parameter '%s'", echo(q->params[i].key, tmp, sizeof(tmp)));
            return -EINVAL;
        }
    }
    return 0;
}

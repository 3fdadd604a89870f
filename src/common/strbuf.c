#include "strbuf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *sb, size_t max)
{
    memset(sb, 0, sizeof(*sb));
    sb->max = max ? max : STRBUF_DEFAULT_MAX;
}

void strbuf_done(struct strbuf *sb)
{
    if (!sb)
        return;
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    sb->overflow = false;
}

void strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    sb->overflow = false;
    if (sb->buf)
        sb->buf[0] = '\0';
}

char *strbuf_steal(struct strbuf *sb)
{
    char *b = sb->buf;

    if (!b)
        b = calloc(1, 1);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    return b;
}

/* Make room for n more bytes plus the NUL. */
static int reserve(struct strbuf *sb, size_t n)
{
    size_t need, ncap;
    char *nb;

    if (sb->overflow)
        return -ENOBUFS;
    if (n > sb->max || sb->len > sb->max - n) {
        sb->overflow = true;
        return -ENOBUFS;
    }
    need = sb->len + n + 1;
    if (need <= sb->cap)
        return 0;
    ncap = sb->cap ? sb->cap : 256;
    while (ncap < need)
        ncap *= 2;
    if (ncap > sb->max + 1)
        ncap = sb->max + 1;
    nb = realloc(sb->buf, ncap);
    if (!nb) {
        sb->overflow = true;
        return -ENOMEM;
    }
    sb->buf = nb;
    sb->cap = ncap;
    return 0;
}

int strbuf_append(struct strbuf *sb, const char *s, size_t n)
{
    int r = reserve(sb, n);

    if (r < 0)
        return r;
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
    return 0;
}

int strbuf_puts(struct strbuf *sb, const char *s)
{
    return strbuf_append(sb, s, strlen(s));
}

int strbuf_putc(struct strbuf *sb, char c)
{
    return strbuf_append(sb, &c, 1);
}

int strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    int r;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -EINVAL;
    r = reserve(sb, (size_t)n);
    if (r < 0)
        return r;
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
    return 0;
}

int strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
    return r;
}

/* Length of a valid UTF-8 sequence starting at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n, i;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int strbuf_json_str(struct strbuf *sb, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p;
    char esc[8];

    strbuf_putc(sb, '"');
    while (*p) {
        size_t n;
        const char *rep = NULL;

        if (*p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80) {
            p++;
            continue;
        }
        if (*p >= 0x80) {
            n = utf8_seq(p);
            if (n) {
                p += n;
                continue;
            }
            rep = "\xef\xbf\xbd";
        } else if (*p == '"') {
            rep = "\\\"";
        } else if (*p == '\\') {
            rep = "\\\\";
        } else if (*p == '\n') {
            rep = "\\n";
        } else if (*p == '\t') {
            rep = "\\t";
        } else if (*p == '\r') {
            rep = "\\r";
        } else {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            rep = esc;
        }
        strbuf_append(sb, (const char *)run, (size_t)(p - run));
        strbuf_puts(sb, rep);
        p++;
        run = p;
    }
    strbuf_append(sb, (const char *)run, (size_t)(p - run));
    return strbuf_putc(sb, '"');
}

int strbuf_json_num(struct strbuf *sb, double v, int decimals)
{
    char tmp[64];
    int n;

    if (!isfinite(v))
        return strbuf_puts(sb, "null");
    if (decimals < 0)
        decimals = 0;
    if (decimals > 9)
        decimals = 9;
    if (fabs(v) >= 1e15) {
        n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    } else {
        n = snprintf(tmp, sizeof(tmp), "%.*f", decimals, v);
        if (decimals > 0 && n > 0) {
            while (n > 0 && tmp[n - 1] == '0')
                n--;
            if (n > 0 && tmp[n - 1] == '.')
                n--;
            tmp[n] = '\0';
        }
        if (strcmp(tmp, "-0") == 0) {
            tmp[0] = '0';
            tmp[1] = '\0';
            n = 1;
        }
    }
    if (n < 0)
        return -EINVAL;
    return strbuf_append(sb, tmp, strlen(tmp));
}

void strbuf_html_putc(struct strbuf *sb, char c)
{
    switch (c) {
    case '&':
        strbuf_puts(sb, "&amp;");
        break;
    case '<':
        strbuf_puts(sb, "&lt;");
        break;
    case '>':
        strbuf_puts(sb, "&gt;");
        break;
    case '"':
        strbuf_puts(sb, "&quot;");
        break;
    case '\'':
        strbuf_puts(sb, "&#39;");
        break;
    default:
        strbuf_putc(sb, c);
    }
}

void strbuf_html(struct strbuf *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        strbuf_html_putc(sb, s[i]);
}

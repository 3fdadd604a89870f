/*
 * Bounded growable string buffer.
 *
 * A strbuf grows on demand up to `max` bytes (content, excluding the NUL); an
 * append that would exceed it is refused, `overflow` is set and later appends
 * are ignored, so a writer can emit freely and check once at the end.
 * The content is always NUL-terminated once anything has been appended.
 * Not thread-safe; the owner of the struct owns `buf` and frees it with
 * strbuf_done(). strbuf_steal() hands `buf` to the caller (free()).
 */
#ifndef AM_COMMON_STRBUF_H
#define AM_COMMON_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *buf;
    size_t len;
    size_t cap;
    size_t max;
    bool overflow; /* an append was refused (limit or out of memory) */
};

#define STRBUF_DEFAULT_MAX ((size_t)64 << 20)

void strbuf_init(struct strbuf *sb, size_t max);
void strbuf_done(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
char *strbuf_steal(struct strbuf *sb);

int strbuf_append(struct strbuf *sb, const char *s, size_t n);
int strbuf_puts(struct strbuf *sb, const char *s);
int strbuf_putc(struct strbuf *sb, char c);
int strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Append s as a JSON string literal, quotes included; invalid UTF-8 bytes become U+FFFD. */
int strbuf_json_str(struct strbuf *sb, const char *s);
/* Append c, or its HTML character reference for & < > " ' (text and attribute values). */
void strbuf_html_putc(struct strbuf *sb, char c);
/* Append the n bytes of s, HTML-escaped as by strbuf_html_putc() (s may be NULL when n is 0). */
void strbuf_html(struct strbuf *sb, const char *s, size_t n);

/* Append a JSON number with at most `decimals` decimals (trailing zeros trimmed);
 * NaN and infinities are written as null. */
int strbuf_json_num(struct strbuf *sb, double v, int decimals);

#endif

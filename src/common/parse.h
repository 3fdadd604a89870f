/*
 * Checked number parsing.
 *
 * Two families:
 *  - parse_*(): a whole NUL-terminated string must be a number, nothing else;
 *    used for configuration values, command-line flags and single-value files.
 *  - scan_*(): read one number at *p (after optional blanks), stop at the first
 *    character that is not part of it and advance *p; used by the /proc parsers,
 *    which walk a buffer of known length.
 *
 * All return 0 on success and a negative errno on failure (-EINVAL: no number or
 * trailing garbage, -ERANGE: overflow); ret_* is written only on success.
 * All functions are pure and thread-safe.
 */
#ifndef AM_COMMON_PARSE_H
#define AM_COMMON_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int parse_u64(const char *s, uint64_t *ret_v);
int parse_i64(const char *s, int64_t *ret_v);
int parse_double(const char *s, double *ret_v);
int parse_bool(const char *s, bool *ret_v);

/* Skip spaces and tabs (not newlines). */
static inline const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Advance to the character after the next '\n' (or to end). */
static inline const char *next_line(const char *p, const char *end)
{
    while (p < end && *p != '\n')
        p++;
    return p < end ? p + 1 : end;
}

/* Unsigned decimal integer. */
int scan_u64(const char **p, const char *end, uint64_t *ret_v);
/* Signed decimal integer. */
int scan_i64(const char **p, const char *end, int64_t *ret_v);
/* Decimal fixed-point number as found in /proc ("2445.406"); no exponent. */
int scan_decimal(const char **p, const char *end, double *ret_v);
/* A run of non-blank characters; ret_tok points into the buffer. */
int scan_word(const char **p, const char *end, const char **ret_tok, size_t *ret_len);

#endif

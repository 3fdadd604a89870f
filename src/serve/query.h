/*
 * Strict parsing of an HTTP request target ("/api/v1/history?limit=10&from=1").
 *
 * The path and every query parameter are percent-decoded into the struct's own
 * storage. Anything ambiguous is refused with a message fit for a 400 answer:
 * a malformed or NUL escape, a target over HTTPQ_MAX_TARGET bytes, more than
 * HTTPQ_MAX_PARAMS parameters, a parameter given twice, a path not starting
 * with '/'. '+' in the query means a space; "a" and "a=" both give "".
 * No allocation, no I/O; a struct httpq is self-contained (and large: keep it
 * off small stacks or reuse it). Thread-safe on distinct structs.
 */
#ifndef AM_SERVE_QUERY_H
#define AM_SERVE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#define HTTPQ_MAX_TARGET 4096
#define HTTPQ_MAX_PARAMS 16

struct httpq_param {
    const char *key; /* decoded, NUL-terminated, inside storage */
    const char *value;
};

struct httpq {
    const char *path; /* decoded, inside storage */
    struct httpq_param params[HTTPQ_MAX_PARAMS];
    size_t n_params;
    char error[128]; /* why the last call failed */
    char storage[HTTPQ_MAX_TARGET + HTTPQ_MAX_PARAMS + 2];
};

/*
 * Parses target[0..len) (raw bytes, not NUL-terminated; any byte that is not
 * visible ASCII, and '#', is refused). 0, or -EINVAL / -E2BIG with q->error
 * set; after a failure q->path is "" and q->n_params is 0. The strings in q
 * point into q itself: they live as long as q and until the next parse.
 * Empty pairs ("a=1&&b=2", a trailing '&') are skipped; a pair with an empty
 * name ("=1") is refused. Error messages are printable ASCII without quotes or
 * backslashes and quote at most 32 bytes of the target.
 */
int httpq_parse(struct httpq *q, const char *target, size_t len);

/* The decoded value of key, or NULL when absent; points into q. */
const char *httpq_get(const struct httpq *q, const char *key);

/*
 * Typed getters: 0 when absent (*out left alone, so preset it to the default),
 * 1 when present and valid, -EINVAL when malformed or outside [min, max], with
 * q->error naming the parameter and the accepted range.
 * Integers are plain decimal (no sign for u64, no spaces, no hex); doubles are
 * finite decimals: an optional '-', digits with an optional '.', an optional
 * exponent ("1.5", "-.5", "2e3"; not "+1", "0x10", "inf", "1e999").
 * q->error then reads "limit: expected an integer from 1 to 1000".
 */
int httpq_get_u64(struct httpq *q, const char *key, uint64_t min, uint64_t max, uint64_t *out);
int httpq_get_double(struct httpq *q, const char *key, double min, double max, double *out);

/* -EINVAL with q->error set ("unknown parameter 'foo'") if a parameter is not
 * in the NULL-terminated list (NULL: no parameter is allowed); else 0. */
int httpq_check_known(struct httpq *q, const char *const *allowed);

#endif

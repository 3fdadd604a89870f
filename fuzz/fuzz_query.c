/* The request-target parser on arbitrary bytes: a refusal says why, never a
 * crash or a read past the input. Beyond not crashing, it checks what query.h
 * promises: a parsed target has a path starting with '/', at most
 * HTTPQ_MAX_PARAMS distinct, non-empty, NUL-free names, all inside the
 * struct's storage and no longer than their raw form; every getter keeps its
 * range; every error message is short, printable and needs no JSON escaping. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/query.h"

/* a broken promise is a crash, under libFuzzer and under the replay test */
#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

static void check_error(const struct httpq *q)
{
    size_t n = strnlen(q->error, sizeof(q->error));

    CHECK(n > 0 && n < sizeof(q->error));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)q->error[i];
        CHECK(c >= 0x20 && c < 0x7f && c != '"' && c != '\\');
    }
}

/* s is a NUL-terminated string that lies wholly inside q->storage */
static size_t check_stored(const struct httpq *q, const char *s)
{
    const char *lo = q->storage, *hi = q->storage + sizeof(q->storage);
    size_t n;

    CHECK(s >= lo && s < hi);
    n = strnlen(s, (size_t)(hi - s));
    CHECK(n < (size_t)(hi - s));
    return n;
}

static void check_u64(struct httpq *q, const char *key, uint64_t min, uint64_t max)
{
    const uint64_t preset = 0x5a5a5a5a5a5a5a5aULL;
    const char *v = httpq_get(q, key);
    uint64_t out = preset;
    int r = httpq_get_u64(q, key, min, max, &out);

    if (r == 0) {
        CHECK(v == NULL && out == preset);
    } else if (r == 1) {
        CHECK(v != NULL && out >= min && out <= max);
        /* only digits were taken */
        for (const char *p = v; *p; p++)
            CHECK(*p >= '0' && *p <= '9');
    } else {
        CHECK(r == -EINVAL && v != NULL && out == preset);
        check_error(q);
    }
}

static void check_double(struct httpq *q, const char *key, double min, double max)
{
    const char *v = httpq_get(q, key);
    double out = 12345.5;
    int r = httpq_get_double(q, key, min, max, &out);

    if (r == 0) {
        CHECK(v == NULL && out == 12345.5);
    } else if (r == 1) {
        CHECK(v != NULL && out >= min && out <= max);
        for (const char *p = v; *p; p++)
            CHECK((*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '+' || *p == 'e' ||
                  *p == 'E');
    } else {
        CHECK(r == -EINVAL && v != NULL && out == 12345.5);
        check_error(q);
    }
}

static void check_getters(struct httpq *q, const char *key)
{
    check_u64(q, key, 0, UINT64_MAX);
    check_u64(q, key, 1, 1000);
    check_u64(q, key, 5, 5);
    check_double(q, key, -1e300, 1e300);
    check_double(q, key, 0, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const known[] = {"limit", "from", "to", "step", "ratio", NULL};
    static struct httpq q;
    const char *target = (const char *)data;
    size_t total = 0;
    int r;

    r = httpq_parse(&q, target, size);
    if (r < 0) {
        CHECK(r == -EINVAL || r == -E2BIG);
        CHECK(r != -E2BIG || size > HTTPQ_MAX_TARGET || memchr(target, '&', size));
        check_error(&q);
        CHECK(q.n_params == 0 && q.path && q.path[0] == '\0');
        CHECK(httpq_get(&q, "limit") == NULL);
        return 0;
    }
    CHECK(r == 0 && q.error[0] == '\0');
    CHECK(size >= 1 && size <= HTTPQ_MAX_TARGET && target[0] == '/');
    CHECK(q.path[0] == '/');
    total += check_stored(&q, q.path);
    CHECK(q.n_params <= HTTPQ_MAX_PARAMS);
    for (size_t i = 0; i < q.n_params; i++) {
        const struct httpq_param *p = &q.params[i];
        size_t klen = check_stored(&q, p->key);

        CHECK(klen > 0);
        total += klen + check_stored(&q, p->value);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(q.params[j].key, p->key) != 0);
        CHECK(httpq_get(&q, p->key) == p->value);
    }
    /* decoding never lengthens */
    CHECK(total <= size);

    for (size_t i = 0; i < q.n_params; i++)
        check_getters(&q, q.params[i].key);
    check_getters(&q, "absent");

    r = httpq_check_known(&q, known);
    if (r < 0) {
        CHECK(r == -EINVAL);
        check_error(&q);
    }
    r = httpq_check_known(&q, NULL);
    CHECK(r == (q.n_params ? -EINVAL : 0));
    return 0;
}

/* snapshot_set_text() on arbitrary bytes: the input is a key, a NUL byte and
 * the value (no NUL: all key, empty value), set on a fresh snapshot that is
 * then JSON-encoded. Beyond not crashing, it checks what snapshot.h promises:
 * only 0, -EINVAL or -ENOENT come back; a refusal leaves the snapshot as it
 * was; a value that was taken comes back from snapshot_flatten_texts() within
 * the bounds, and setting what it writes on another fresh snapshot gives the
 * same JSON. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/snapshot.h"

/* a broken promise is a crash, under libFuzzer and under the replay test */
#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

static char *json_of(const struct snapshot *s)
{
    struct strbuf sb;
    char *j;

    strbuf_init(&sb, 0);
    CHECK(snapshot_to_json(s, &sb) == 0);
    j = strbuf_steal(&sb);
    CHECK(j != NULL);
    return j;
}

static void set_again(void *ctx, const char *key, const char *value, size_t len)
{
    CHECK(len <= SNAPSHOT_TEXT_MAX);
    CHECK(snapshot_set_text(ctx, key, value, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nul = memchr(data, '\0', size);
    size_t klen = nul ? (size_t)(nul - (const char *)data) : size;
    const char *value = nul ? nul + 1 : NULL;
    size_t vlen = nul ? size - klen - 1 : 0;
    struct snapshot *s = snapshot_new(), *r = snapshot_new();
    char *key = malloc(klen + 1), *js, *jr;
    int rc;

    CHECK(s && r && key);
    memcpy(key, data, klen);
    key[klen] = '\0';
    jr = json_of(r); /* a fresh snapshot's */

    rc = snapshot_set_text(s, key, value, vlen);
    CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT);
    CHECK(rc != 0 || vlen <= SNAPSHOT_TEXT_MAX);
    js = json_of(s);
    if (rc < 0) {
        CHECK(strcmp(js, jr) == 0);
    } else {
        snapshot_flatten_texts(s, set_again, r);
        free(jr);
        jr = json_of(r);
        CHECK(strcmp(js, jr) == 0);
    }
    free(js);
    free(jr);
    free(key);
    snapshot_unref(r);
    snapshot_unref(s);
    return 0;
}

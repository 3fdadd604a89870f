#include "intern.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The pool: a region reserved once (pages are only backed when written), the
 * strings packed in it; an open-addressing table of offsets finds them. */
static char *base;
static size_t used;     /* bytes of base in use (read without the lock by interned()) */
static uint32_t *slots; /* offset + 1 of each string (0: empty), power-of-two size */
static size_t n_slots, n_strings;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int grow(void)
{
    size_t ncap = n_slots ? n_slots * 2 : 4096;
    uint32_t *ns = calloc(ncap, sizeof(*ns));

    if (!ns)
        return -1;
    for (size_t i = 0; i < n_slots; i++) {
        const char *str;
        size_t j;
        if (!slots[i])
            continue;
        str = base + slots[i] - 1;
        for (j = hash(str, strlen(str)) & (ncap - 1); ns[j]; j = (j + 1) & (ncap - 1))
            ;
        ns[j] = slots[i];
    }
    free(slots);
    slots = ns;
    n_slots = ncap;
    return 0;
}

const char *intern(const char *s)
{
    size_t n = strlen(s), i;
    const char *r = NULL;

    if (n > INTERN_MAX_LEN)
        return NULL;
    pthread_mutex_lock(&lock);
    if (!base) {
        void *m = mmap(NULL, INTERN_MAX_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED)
            goto out;
        __atomic_store_n(&base, (char *)m, __ATOMIC_RELEASE);
    }
    if ((n_strings + 1) * 2 > n_slots && grow() < 0)
        goto out;
    for (i = hash(s, n) & (n_slots - 1); slots[i]; i = (i + 1) & (n_slots - 1)) {
        const char *str = base + slots[i] - 1;
        if (strcmp(str, s) == 0) {
            r = str;
            goto out;
        }
    }
    if (used + n + 1 > INTERN_MAX_BYTES)
        goto out;
    memcpy(base + used, s, n + 1);
    slots[i] = (uint32_t)used + 1;
    r = base + used;
    n_strings++;
    /* published after the bytes: interned() of this address reads a whole string */
    __atomic_store_n(&used, used + n + 1, __ATOMIC_RELEASE);
out:
    pthread_mutex_unlock(&lock);
    return r;
}

bool interned(const char *p)
{
    uintptr_t b = (uintptr_t)__atomic_load_n(&base, __ATOMIC_ACQUIRE), a = (uintptr_t)p;

    return b && a >= b && a < b + __atomic_load_n(&used, __ATOMIC_ACQUIRE);
}

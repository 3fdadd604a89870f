/*
 * A table of per-name state for kernel files that list devices in a stable order
 * every time they are read (/proc/diskstats, /proc/net/dev): entries are found
 * by name, trying the one after the last found first, so a whole file costs one
 * comparison per line instead of a search. Entries are structs of `esize` bytes
 * whose first member is `char name[NAMETAB_NAME]`. Pointers to entries stay valid
 * until the next nametab_get() that adds one. One thread at a time.
 */
#ifndef AM_COMMON_NAMETAB_H
#define AM_COMMON_NAMETAB_H

#include <stdbool.h>
#include <stddef.h>

#define NAMETAB_NAME 32

struct nametab {
    char *v;
    size_t esize;
    size_t n, cap, max;
    size_t hint;
    bool full; /* a name was refused: the table holds `max` entries */
};

void nametab_init(struct nametab *t, size_t esize, size_t max);
void nametab_done(struct nametab *t);
/* Call before walking a file again: the search starts from the first entry. */
void nametab_rewind(struct nametab *t);
/* The entry for name; a new one (zeroed, name set) when absent, with *ret_added set.
 * NULL when the table is full or out of memory. */
void *nametab_get(struct nametab *t, const char *name, bool *ret_added);
static inline void *nametab_at(const struct nametab *t, size_t i)
{
    return t->v + i * t->esize;
}

#endif

#include "nametab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nametab_init(struct nametab *t, size_t esize, size_t max)
{
    memset(t, 0, sizeof(*t));
    t->esize = esize;
    t->max = max;
}

void nametab_done(struct nametab *t)
{
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

void nametab_rewind(struct nametab *t)
{
    t->hint = 0;
    t->full = false;
}

void *nametab_get(struct nametab *t, const char *name, bool *ret_added)
{
    char *e;

    *ret_added = false;
    if (t->hint < t->n && !strcmp(nametab_at(t, t->hint), name))
        return nametab_at(t, t->hint++);
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(nametab_at(t, i), name)) {
            t->hint = i + 1;
            return nametab_at(t, i);
        }
    }
    if (t->n >= t->max) {
        t->full = true;
        return NULL;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char *nv = realloc(t->v, cap * t->esize);
        if (!nv)
            return NULL;
        t->v = nv;
        t->cap = cap;
    }
    e = nametab_at(t, t->n++);
    memset(e, 0, t->esize);
    snprintf(e, NAMETAB_NAME, "%s", name);
    t->hint = t->n;
    *ret_added = true;
    return e;
}

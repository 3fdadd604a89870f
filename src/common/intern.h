/*
 * Interned strings: one immortal copy of each distinct string, for the names
 * that recur tick after tick (label values: core numbers, function names,
 * model and layer names). Two interned strings are equal exactly when their
 * addresses are, and an interned address never changes meaning (nothing is
 * ever freed or reused), so a reader that remembers an interned address from
 * the last tick can match it without reading the string.
 *
 * Bounded: the pool is one reserved region of INTERN_MAX_BYTES; once full,
 * intern() returns NULL and callers keep their own copy (correct, only
 * slower for whoever compares). Thread-safe (a mutex: interning happens when
 * a snapshot is built, not per observation).
 */
#ifndef AM_COMMON_INTERN_H
#define AM_COMMON_INTERN_H

#include <stdbool.h>
#include <stddef.h>

#define INTERN_MAX_BYTES ((size_t)4 << 20)
#define INTERN_MAX_LEN   255 /* longer strings are not interned */

/* The interned copy of s (NUL-terminated), or NULL when s is longer than
 * INTERN_MAX_LEN, the pool is full, or memory is short. */
const char *intern(const char *s);

/* Is p an address intern() returned? (O(1): one range check.) */
bool interned(const char *p);

#endif

/*
 * A deterministic random generator for tests and benchmarks (splitmix64):
 * the same numbers on every run and machine, so that a failure or a figure
 * can be reproduced. Not for anything that needs unpredictability
 * (getrandom() is for that). Each including file has its own state.
 */
#ifndef AM_COMMON_DETRAND_H
#define AM_COMMON_DETRAND_H

#include <math.h>
#include <stdint.h>

static uint64_t detrand_state = 0x9e3779b97f4a7c15u;

static inline uint64_t rnd(void)
{
    uint64_t z = (detrand_state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double urand(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* Standard normal (Box-Muller). */
static inline double gauss(void)
{
    double u = urand() + 1e-12, v = urand();

    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

#endif

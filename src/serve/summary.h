/* Human-readable renderings of a snapshot for the console. */
#ifndef AM_SERVE_SUMMARY_H
#define AM_SERVE_SUMMARY_H

#include <stdio.h>

#include "core/snapshot.h"

/* One line: the tick summary `arthamon run` prints. */
void summary_print_line(FILE *out, const struct snapshot *s);
/* Every figure, grouped as the seed's structures, "-" for absent. */
void summary_print_full(FILE *out, const struct snapshot *s);

#endif

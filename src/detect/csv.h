/*
 * The CSV rows `arthamon detect` reads, one line at a time: a header whose
 * first field is `timestamp` and whose other fields name value columns, then
 * rows of as many fields: a timestamp (epoch seconds, as `arthamon query
 * --format csv` writes them, or `YYYY-MM-DD HH:MM:SS[.fff]` in UTC, as in
 * NAB's files, from 1970 on; a 'T' may stand for the space) and finite decimal values.
 * Timestamps must not decrease; a row may repeat the previous row's timestamp
 * (NAB's files do, at daylight-saving changes): it is accepted and counted. Fields are split at
 * every ',' (no quoting) and may carry blanks around them; a trailing '\r' is ignored.
 *
 * Pure parsing: no I/O, no allocation, no global state; a parser is not
 * thread-safe, distinct parsers are independent. On a rejected line the
 * functions return -EINVAL, leave the outputs untouched and put a one-line
 * reason in err (without file or line: the caller knows them).
 */
#ifndef AM_DETECT_CSV_H
#define AM_DETECT_CSV_H

#include <stdbool.h>
#include <stddef.h>

#define DETECT_CSV_MAX_COLUMNS 64    /* value columns */
#define DETECT_CSV_LINE_MAX    65536 /* bytes in a line, without its '\n' */
#define DETECT_CSV_FIELD_MAX   64    /* bytes in a timestamp or value field */

struct detect_csv {
    size_t columns;  /* value columns; 0 until the header is read */
    bool have_prev;  /* a row was accepted */
    double prev_ts;  /* its timestamp, in seconds */
    size_t repeated; /* accepted rows whose timestamp equals the previous row's */
    char err[160];   /* why the last line was rejected */
};

/* Resets *c to expect a header. */
void detect_csv_init(struct detect_csv *c);

/* Reads the header line [line, line + len) (no '\n'). 0, or -EINVAL. */
int detect_csv_header(struct detect_csv *c, const char *line, size_t len);

/* Reads one data row (no '\n'): its timestamp into *ret_ts (seconds since the
 * epoch) and its c->columns values into ret_values[]. 0, or -EINVAL. */
int detect_csv_row(struct detect_csv *c, const char *line, size_t len, double *ret_ts,
                   double *ret_values);

/* Parses one timestamp field (no blanks around it) into seconds since the
 * epoch. 0, or -EINVAL. Exposed for the tests and the fuzzer. */
int detect_csv_timestamp(const char *s, size_t len, double *ret_ts);

#endif

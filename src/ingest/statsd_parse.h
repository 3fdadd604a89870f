/*
 * StatsD and DogStatsD datagram parser: the pure core of the StatsD receiver.
 *
 * No I/O, no allocation, no global state, no locale: every function is
 * reentrant and thread-safe, reads only [buf, buf + len) (the buffer need not be
 * NUL-terminated) and writes only through its output parameters. Nothing is
 * copied: every pointer it hands back points into the caller's buffer, which the
 * caller owns and must keep unchanged for as long as it uses them.
 *
 * A datagram is one or more lines separated by '\n'; a line may end in "\r\n";
 * empty lines are skipped. A line is one of
 *
 *   <name>:<value>[:<value>...]|<type>[|@<rate>][|#<tag>,<tag>...][|c:<container>][|T<unix-seconds>]
 *   _e{...          a DogStatsD event          (recognised, not parsed)
 *   _sc|...         a DogStatsD service check  (recognised, not parsed)
 *
 * with <type> one of c g ms h d s, the sections after the type in any order,
 * and any further section that starts with a letter skipped. See
 * statsd_parse_line() for the exact rules. Every malformed line is rejected
 * with one reason (enum statsd_reason), which is all the server needs to count
 * and drop it; a bad line has no effect on the other lines of its datagram.
 *
 * Typical use, on every datagram received:
 *
 *   size_t pos = 0, len;
 *   const char *l;
 *   struct statsd_line m;
 *   while (statsd_next_line(buf, n, &pos, &l, &len)) {
 *       int r = statsd_parse_line(l, len, &m);
 *       if (r < 0)
 *           malformed[-r]++;            // label: statsd_reason(r)
 *       else if (m.kind == STATSD_KIND_METRIC)
 *           record(&m);
 *   }
 */
#ifndef AM_INGEST_STATSD_PARSE_H
#define AM_INGEST_STATSD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The receive buffer of the server: the longest datagram it reads (a UDP
 * payload is at most 65507 bytes; Unix datagram sockets are given the same
 * limit). A line longer than this is rejected whatever is in it. */
#define STATSD_DATAGRAM_MAX 65536
#define STATSD_LINE_MAX     STATSD_DATAGRAM_MAX
/* a metric name, in bytes */
#define STATSD_NAME_MAX 200
/* tags on one line */
#define STATSD_MAX_TAGS 32
/* one tag, "key:value" or "key", in bytes */
#define STATSD_TAG_MAX 200
/* one number (a value or a sample rate), in bytes */
#define STATSD_NUMBER_MAX 64

enum statsd_kind {
    STATSD_KIND_METRIC,
    STATSD_KIND_EVENT,         /* "_e{...": valid, ignored */
    STATSD_KIND_SERVICE_CHECK, /* "_sc|...": valid, ignored */
};

enum statsd_type {
    STATSD_NONE,         /* not a metric (an event or a service check) */
    STATSD_COUNTER,      /* c */
    STATSD_GAUGE,        /* g */
    STATSD_TIMER,        /* ms */
    STATSD_HISTOGRAM,    /* h */
    STATSD_DISTRIBUTION, /* d */
    STATSD_SET,          /* s: the value is an opaque string */
};

/*
 * Why a line was rejected. statsd_parse_line() returns the negated value;
 * statsd_reason() names each one. The values are stable array indexes in
 * [1, STATSD_E_COUNT) so the server can keep one counter per reason.
 */
enum statsd_reason {
    STATSD_OK = 0,
    STATSD_E_LINE_TOO_LONG = 1, /* longer than STATSD_LINE_MAX */
    STATSD_E_EMPTY_NAME,        /* nothing before the ':' */
    STATSD_E_NAME_TOO_LONG,     /* more than STATSD_NAME_MAX bytes */
    STATSD_E_BAD_NAME,          /* a byte outside printable ASCII, one of "@#", or a space
                                   at either end */
    STATSD_E_NO_VALUE,          /* no ':' after the name (before any '|') */
    STATSD_E_NO_TYPE,           /* no "|<type>" after the value, or an empty one */
    STATSD_E_UNKNOWN_TYPE,      /* a type other than c g ms h d s */
    STATSD_E_EMPTY_VALUE,       /* nothing between the ':' and the '|' */
    STATSD_E_BAD_VALUE,         /* not a finite decimal number; a bad set member */
    STATSD_E_MIXED_GAUGE,       /* a packed gauge mixing deltas and absolute values */
    STATSD_E_BAD_RATE,          /* "@" not followed by a number in (0, 1] */
    STATSD_E_BAD_TAG,           /* an empty tag or key, or a byte outside printable ASCII
                                   (space included) */
    STATSD_E_TOO_MANY_TAGS,     /* more than STATSD_MAX_TAGS */
    STATSD_E_TAG_TOO_LONG,      /* a tag of more than STATSD_TAG_MAX bytes */
    STATSD_E_BAD_CONTAINER,     /* "c:" followed by a byte outside printable ASCII */
    STATSD_E_BAD_TIMESTAMP,     /* "T" not followed by decimal seconds */
    STATSD_E_BAD_SECTION,       /* an empty section, or one not starting "@", "#" or a letter */
    STATSD_E_DUP_SECTION,       /* a second rate, tags, container or timestamp section */
    STATSD_E_COUNT
};

/* One tag: "key:value" (split at the first ':') or a bare "key" (val_len 0). */
struct statsd_tag {
    const char *key; /* into the line; key_len >= 1 */
    size_t key_len;
    const char *val; /* into the line, just past the ':'; or the end of the key */
    size_t val_len;
};

/*
 * One parsed line. For STATSD_KIND_EVENT and STATSD_KIND_SERVICE_CHECK only
 * kind is meaningful (type is STATSD_NONE, the rest zero, rate 1).
 */
struct statsd_line {
    enum statsd_kind kind;
    enum statsd_type type;
    const char *name; /* into the line; 1 to STATSD_NAME_MAX bytes */
    size_t name_len;
    /* The value field as sent, between the ':' and the '|': one number, several
     * numbers separated by ':' (DogStatsD packing), or a set member (which may
     * itself contain ':'). Non-empty. */
    const char *values;
    size_t values_len;
    size_t n_values;       /* numbers in it (1 for a set); >= 1 */
    double value;          /* the first number (finite); 0 for a set */
    bool delta;            /* a gauge whose values carry a sign: add them, don't set */
    double rate;           /* sample rate in (0, 1]; 1 when absent */
    const char *container; /* "c:<id>" section's id, into the line; NULL when absent */
    size_t container_len;
    uint64_t timestamp; /* "T<seconds>" section; 0 when absent */
    size_t n_tags;
    struct statsd_tag tags[STATSD_MAX_TAGS]; /* last: only [0, n_tags) is written */
};

/*
 * Next line of the datagram [buf, buf + len), starting at *pos (0 for the
 * first call). Skips empty lines; the line returned has no '\n' and no final
 * '\r', and is never empty. Returns true with *ret_line (into buf) and
 * *ret_len set and *pos advanced past the line, or false at the end of the
 * datagram (nothing written). Never fails; bytes other than '\n' are the
 * parser's business.
 */
bool statsd_next_line(const char *buf, size_t len, size_t *pos, const char **ret_line,
                      size_t *ret_len);

/*
 * Parses one line (without its '\n') of len bytes at line.
 *
 * The name is everything before the first ':', 1 to STATSD_NAME_MAX bytes of
 * printable ASCII (space included, but not at either end) other than ':' '|'
 * '@' '#'. The value field runs to the first
 * '|'; the type follows it. A number is [+-]digits[.digits][(e|E)[+-]digits]
 * (digits on at least one side of the '.'), at most STATSD_NUMBER_MAX bytes,
 * and must be finite and not underflow: "nan", "inf", hex, blanks and trailing
 * junk are rejected. Several numbers may be packed "1:2:3"; a gauge's numbers
 * are all signed (deltas) or all unsigned (absolute). A set's member is any
 * printable ASCII. Sections after the type, each at most once, in any order:
 * "@<rate>", "#<tag>,<tag>..." (each tag printable ASCII, space included,
 * non-empty, key non-empty), "c:<container id>" (printable ASCII, may be empty),
 * "T<unix seconds>"; any other section starting with a letter is skipped.
 * The sample rate is reported for every type; applying it (counters only, in
 * StatsD) is the caller's business.
 *
 * Returns 0 with *ret filled (pointers into line), or -enum statsd_reason with
 * *ret untouched.
 */
int statsd_parse_line(const char *line, size_t len, struct statsd_line *ret);

/*
 * The numbers of a metric line, one per call, for lines with n_values > 1 (for
 * n_values == 1, ret->value is the number). *pos starts at 0. Returns 0 with
 * *ret_v set and *pos advanced, -ENOENT after the last one (and for a set), or
 * -EINVAL if l was not filled by a successful statsd_parse_line(). The line's
 * buffer must still hold what was parsed.
 */
int statsd_value_next(const struct statsd_line *l, size_t *pos, double *ret_v);

/* The i-th number (from 0) of a metric line: 0, or -ENOENT when i >= n_values
 * or the line is a set. Walks the values from the start: O(i). */
int statsd_value_at(const struct statsd_line *l, size_t i, double *ret_v);

/* One number as a value field holds it (the rules of statsd_parse_line()):
 * true with *ret_v set, or false. */
bool statsd_number(const char *p, size_t len, double *ret_v);

/*
 * A short, stable, lower-case label for a reason ("name_too_long"), fit for a
 * metric label; takes the reason or its negation (what statsd_parse_line()
 * returned). "ok" for 0, "unknown" for anything out of range. Static storage.
 */
const char *statsd_reason(int reason);

#endif

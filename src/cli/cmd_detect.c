/* arthamon detect: the per-series detector over a CSV file, offline. Rows are
 * streamed (memory does not grow with the file); each output row is the input
 * row unchanged plus its anomaly score. See docs/detection.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "detect/csv.h"
#include "detect/mvar.h"
#include "detect/series.h"

#define READ_CHUNK  (1 << 20)
#define WRITE_CHUNK (1 << 20)
#define MVAR_SEED   0x5eed /* fixed: a run is deterministic */

/* Lines of a descriptor, at most DETECT_CSV_LINE_MAX bytes each. */
struct reader {
    int fd;
    char *buf; /* READ_CHUNK + DETECT_CSV_LINE_MAX + 1 bytes */
    size_t start, end;
    bool eof;
};

/* The next line without its '\n' into [*ret_line, + *ret_len), valid until the
 * next call. 1: a line, 0: end of input, -E2BIG: a line too long, -errno. */
static int next_line_of(struct reader *r, const char **ret_line, size_t *ret_len)
{
    const size_t cap = READ_CHUNK + DETECT_CSV_LINE_MAX + 1;

    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        ssize_t got;

        if (nl) {
            size_t len = (size_t)(nl - (r->buf + r->start));

            if (len > DETECT_CSV_LINE_MAX)
                return -E2BIG;
            *ret_line = r->buf + r->start;
            *ret_len = len;
            r->start += len + 1;
            return 1;
        }
        if (r->end - r->start > DETECT_CSV_LINE_MAX)
            return -E2BIG;
        if (r->eof) {
            if (r->start == r->end)
                return 0;
            *ret_line = r->buf + r->start;
            *ret_len = r->end - r->start;
            r->start = r->end;
            return 1;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        got = read(r->fd, r->buf + r->end, cap - r->end);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (got == 0)
            r->eof = true;
        r->end += (size_t)got;
    }
}

/* Output rows, gathered into one buffer and handed to stdio in big blocks (a
 * row is short: one fwrite() a row costs more than the detector). */
struct writer {
    FILE *out;
    char *buf; /* WRITE_CHUNK bytes */
    size_t len;
};

static void flush_out(struct writer *w)
{
    if (w->len > 0)
        fwrite(w->buf, 1, w->len, w->out);
    w->len = 0;
}

/* appends [p, p + n) to the output; n may exceed WRITE_CHUNK */
static void emit(struct writer *w, const char *p, size_t n)
{
    if (n > WRITE_CHUNK - w->len) {
        flush_out(w);
        if (n > WRITE_CHUNK) {
            fwrite(p, 1, n, w->out);
            return;
        }
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* score in [0, 1] as ",0" or ",0.123456" (6 decimals), appended to out */
static size_t format_score(char *out, double s)
{
    long v = (long)(s * 1e6 + 0.5);
    size_t n = 0;

    if (v <= 0) {
        memcpy(out, ",0", 2);
        return 2;
    }
    if (v >= 1000000) {
        memcpy(out, ",1", 2);
        return 2;
    }
    out[n++] = ',';
    out[n++] = '0';
    out[n++] = '.';
    for (long div = 100000; div > 0; div /= 10)
        out[n++] = (char)('0' + (v / div) % 10);
    return n;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: arthamon detect [--input FILE] [--output FILE]\n"
            "  FILE: a CSV file with the header 'timestamp,NAME[,NAME...]'; '-' or no option:\n"
            "        stdin / stdout. Output: every row plus an anomaly_score column in [0, 1]\n"
            "        (with several value columns, the highest of the per-column scores and the\n"
            "        multivariate detector's score over all columns).\n");
    return 2;
}

int cmd_detect(int argc, char **argv)
{
    const char *in_path = "-", *out_path = "-", *in_name;
    struct detect_series *det[DETECT_CSV_MAX_COLUMNS] = {NULL};
    struct mvar *mv = NULL; /* several value columns: their joint behaviour too */
    double vals[DETECT_CSV_MAX_COLUMNS], ts;
    struct reader rd = {.fd = -1};
    struct writer wr = {0};
    struct detect_csv csv;
    FILE *out = NULL;
    unsigned long lineno = 0;
    const char *line = NULL;
    size_t len = 0;
    int r, rc = 1;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input") && i + 1 < argc)
            in_path = argv[++i];
        else if (!strcmp(argv[i], "--output") && i + 1 < argc)
            out_path = argv[++i];
        else
            return usage();
    }
    in_name = strcmp(in_path, "-") ? in_path : "<stdin>";
    rd.buf = malloc(READ_CHUNK + DETECT_CSV_LINE_MAX + 1);
    wr.buf = malloc(WRITE_CHUNK);
    if (!rd.buf || !wr.buf) {
        free(rd.buf);
        free(wr.buf);
        fprintf(stderr, "arthamon: detect: out of memory\n");
        return 1;
    }
    rd.fd = strcmp(in_path, "-") ? open(in_path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (rd.fd < 0) {
        fprintf(stderr, "arthamon: %s: %s\n", in_name, strerror(errno));
        goto done;
    }
    out = strcmp(out_path, "-") ? fopen(out_path, "we") : stdout;
    if (!out) {
        fprintf(stderr, "arthamon: %s: %s\n", out_path, strerror(errno));
        goto done;
    }
    wr.out = out;
    detect_csv_init(&csv);

    while ((r = next_line_of(&rd, &line, &len)) == 1) {
        char tail[DETECT_CSV_FIELD_MAX];
        double score = 0;
        size_t keep = len, t;

        lineno++;
        if (keep > 0 && line[keep - 1] == '\r')
            keep--;
        if (keep == 0 && csv.columns > 0)
            continue; /* blank lines between rows are skipped */
        if (csv.columns == 0) {
            if (detect_csv_header(&csv, line, len) < 0) {
                fprintf(stderr, "arthamon: %s:%lu: %s\n", in_name, lineno, csv.err);
                goto done;
            }
            for (size_t c = 0; c < csv.columns; c++) {
                det[c] = detect_series_new();
                if (!det[c]) {
                    fprintf(stderr, "arthamon: detect: out of memory\n");
                    goto done;
                }
            }
            if (csv.columns > 1) {
                struct mvar_opts mo;
                mvar_default_opts(&mo, (uint32_t)csv.columns);
                mv = mvar_new(&mo, MVAR_SEED);
                if (!mv) {
                    fprintf(stderr, "arthamon: detect: out of memory\n");
                    goto done;
                }
            }
            emit(&wr, line, keep);
            emit(&wr, ",anomaly_score\n", 15);
            continue;
        }
        if (detect_csv_row(&csv, line, len, &ts, vals) < 0) {
            fprintf(stderr, "arthamon: %s:%lu: %s\n", in_name, lineno, csv.err);
            goto done;
        }
        for (size_t c = 0; c < csv.columns; c++) {
            double s = detect_series_update(det[c], vals[c]);

            if (s > score)
                score = s;
        }
        if (mv) {
            double s = mvar_update(mv, vals);

            if (s > score)
                score = s;
        }
        emit(&wr, line, keep);
        t = format_score(tail, score);
        tail[t++] = '\n';
        emit(&wr, tail, t);
    }
    if (r == -E2BIG) {
        fprintf(stderr, "arthamon: %s:%lu: line longer than %d bytes\n", in_name, lineno + 1,
                DETECT_CSV_LINE_MAX);
        goto done;
    }
    if (r < 0) {
        fprintf(stderr, "arthamon: %s: %s\n", in_name, strerror(-r));
        goto done;
    }
    if (csv.columns == 0) {
        fprintf(stderr, "arthamon: %s:%lu: empty input: no header line\n", in_name, lineno + 1);
        goto done;
    }
    if (csv.repeated > 0)
        fprintf(stderr,
                "arthamon: %s: note: %zu rows repeat the previous row's timestamp (scored in file "
                "order)\n",
                in_name, csv.repeated);
    rc = 0;
done:
    if (out) {
        flush_out(&wr);
        if (fflush(out) != 0 || ferror(out)) {
            if (rc == 0)
                fprintf(stderr, "arthamon: %s: %s\n", strcmp(out_path, "-") ? out_path : "<stdout>",
                        strerror(errno));
            rc = 1;
        }
        if (out != stdout && fclose(out) != 0 && rc == 0) {
            fprintf(stderr, "arthamon: %s: %s\n", out_path, strerror(errno));
            rc = 1;
        }
    }
    if (rd.fd > STDIN_FILENO)
        close(rd.fd);
    for (size_t c = 0; c < DETECT_CSV_MAX_COLUMNS; c++)
        detect_series_free(det[c]);
    mvar_free(mv);
    free(rd.buf);
    free(wr.buf);
    return rc;
}

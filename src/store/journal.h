/*
 * The tick journal: the newest snapshots of the history store, one record per
 * tick appended to a file beside the database (arthamon.db-ticks), until
 * compaction moves a finished hour into the database's blocks.
 *
 * Why a file and not a table: a SQLite transaction per tick costs more CPU
 * than the whole budget of an append (and writes each row three times: WAL,
 * database, freelist). A write() of one record reaches the page cache before
 * store_append() returns, so a killed process loses nothing; the store
 * fdatasync()s the file once a minute, so a power cut loses at most that
 * minute (WAL with synchronous=NORMAL gives the same kind of promise).
 *
 * Appends are copied into a shared mapping of the file, whose blocks are
 * allocated ahead (fallocate, about 256 records at a time): a store into the mapping
 * is in the page cache like a write() is, without a system call per tick; a
 * full disk shows as the allocation failing, never as a fault on the mapping.
 * The zeros past the last record end the journal as a torn record does.
 *
 * File:    header   "ARMNJRN" format(1|2)  u64 db id  u64 generation  (24 bytes, LE)
 *          records  u32 length  u32 crc32c  i64 ts (ms)  payload (length bytes)
 * The format digit says how the payloads (rows, store.c) are written; a file
 * keeps its format when rewritten, a new one gets JR_FORMAT. The CRC covers ts
 * and payload. A record that is truncated or fails its CRC
 * ends the journal: what follows it (a torn write) is dropped.
 *
 * The db id ties the file to its database (a journal left beside another
 * database is set aside, not replayed). The generation orders rewrites: the
 * database records which generation, up to which offset and before which time
 * it has consumed (see store.c), so a crash between compaction's commit and
 * the journal's rewrite neither loses nor doubles a tick.
 */
#ifndef AM_STORE_JOURNAL_H
#define AM_STORE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

#define JR_HDR_LEN     24
#define JR_FORMAT      2 /* of the rows in a new file */
#define JR_REC_HDR_LEN 16
#define JR_MAX_PAYLOAD (4u << 20)  /* a record never holds more */
#define JR_WINDOW      (64u << 10) /* blocks allocated ahead at a time: at least */
#define JR_WINDOW_MAX  (1u << 20)  /* and at most */
#define JR_MAP_SPAN    (8u << 20)  /* the mapping appends are copied into */

struct jr_rec {
    int64_t ts;
    uint64_t off; /* of the record (its header) in the file */
    uint32_t len; /* of the payload */
};

struct journal {
    int fd; /* -1: none (read-only and no file) */
    char *path;
    bool read_only;
    uint64_t db_id, gen;
    int format;    /* of the rows: 1 or 2 (the header's digit) */
    uint64_t size; /* end of the last good record */
    struct jr_rec *v;
    size_t n, cap;
    bool sorted;        /* v in time order (a late tick unsorts it) */
    int64_t max_ts;     /* INT64_MIN when empty */
    const uint8_t *map; /* read-only: the file mapped */
    size_t map_len;
    /* read-write: the part of the file appends are copied into (mapped
     * shared, its blocks allocated beforehand), and the file's size */
    uint8_t *win;
    uint64_t win_off;
    size_t win_len;
    uint64_t file_len;
    bool no_win;        /* the file system cannot allocate ahead: write() instead */
    uint64_t populated; /* the window is present and writable up to here */
    bool no_populate;   /* the kernel cannot do that (MADV_POPULATE_WRITE) */
    uint64_t released;  /* the window's whole pages before this are out of the page tables */
};

/* Parses a journal header: its row format (1 or 2), or -EBADMSG when buf does
 * not start with one. */
int jr_parse_header(const uint8_t *buf, size_t len, uint64_t *db_id, uint64_t *gen);

/*
 * Walks the records of buf[JR_HDR_LEN..len), calling fn per record whose
 * length and CRC are good, stopping at the first that is not (or when fn
 * returns non-zero). Returns the offset just past the last good record.
 */
uint64_t jr_scan(const uint8_t *buf, size_t len,
                 int (*fn)(void *ctx, int64_t ts, uint64_t off, const uint8_t *payload,
                           uint32_t plen),
                 void *ctx);

/*
 * Opens the journal at path for the database db_id. Read-write: creates it
 * (generation new_gen) when absent or empty; a file of another database, or
 * not a journal, is renamed to path.orphan-<epoch> with a warning and a new
 * one started; a torn tail is cut off (logged). Read-only: maps it (absent: an
 * empty journal). 0 or -errno with one line in errs.
 */
int jr_open(struct journal *j, const char *path, uint64_t db_id, uint64_t new_gen, bool read_only,
            struct strbuf *errs);
void jr_close(struct journal *j);

/* Appends one record (one write); on failure the file is as before. rec holds
 * JR_REC_HDR_LEN bytes for the header (filled here), then the payload of len
 * bytes: the record is written as it lies. 0 or -errno. */
int jr_append(struct journal *j, int64_t ts, uint8_t *rec, uint32_t len);

/* The payload of r into buf (r->len bytes), its CRC checked. 0, -EBADMSG or -errno. */
int jr_read(const struct journal *j, const struct jr_rec *r, uint8_t *buf);

/* The file's first len bytes mapped read-only (for reading many records
 * without copying them; appends past len go on meanwhile): NULL on failure.
 * Unmap with munmap(map, len). */
const uint8_t *jr_map(const struct journal *j, uint64_t len);

/* The payload of r in a mapping of the file (map, map_len), its CRC checked:
 * a pointer into map, or NULL when the record is not there or damaged. */
const uint8_t *jr_view(const uint8_t *map, size_t map_len, const struct jr_rec *r);

/* Is there a record at ts? */
bool jr_has(const struct journal *j, int64_t ts);

/*
 * Replaces the file by a new one of generation gen holding the records for
 * which keep() is true (written, synced, renamed over the old one). On failure
 * the old file and index stay. 0 or -errno.
 */
int jr_rewrite(struct journal *j, uint64_t gen, bool (*keep)(void *ctx, const struct jr_rec *r),
               void *ctx);

/* Drops from the index (not the file) the records for which drop() is true. */
void jr_forget(struct journal *j, bool (*drop)(void *ctx, const struct jr_rec *r), void *ctx);

/* fdatasync() of the file. 0 or -errno. */
int jr_sync(struct journal *j);

/* Indexes into j->v of the records with ts in [from, to], in time order, into
 * *ret (malloc'd; the caller frees). The count, or -ENOMEM. */
long jr_range(const struct journal *j, int64_t from, int64_t to, size_t **ret);

#endif

/*
 * The block format of the time-series store: a block holds consecutive
 * snapshots as columns, one timestamp column shared by every series and one
 * value column per series, each cell present or absent (series appear and
 * disappear between snapshots).
 *
 * Encoding, per column, whichever is smallest of what is lossless:
 *  - timestamps (ms): differences or differences of differences, bit-packed
 *    in frames of 128 (a regular clock costs a few bytes per block);
 *  - values that are integers once scaled by 10^d (d = 0..9; counters are
 *    d = 0, a gauge rounded to 2 decimals is d = 2), divided by their common
 *    step (4096 for memory in bytes): per frame of 128, the integers, their
 *    deltas or their deltas of deltas, minus the frame's minimum, bit-packed
 *    in the frame's own width (a constant frame costs its header only, a
 *    frame of mostly zeros lists its other values; a straight line, such as
 *    a steady counter, costs nothing per row; -0.0 is listed apart);
 *  - anything else: XOR of consecutive doubles (Gorilla);
 *  - a column whose present values are all equal: the value once.
 * Absent cells cost a bitmap or a list of runs, whichever is shorter. The byte
 * layout is described in codec.c.
 * Every value decodes to the exact double that was encoded (bit for bit, NaN
 * apart: NaN is "absent").
 *
 * Checksums (CRC-32C): blk_encode() writes format version 2, where one CRC
 * covers the header, the timestamps and a directory of the columns (ids and
 * lengths), and each chunk of columns (a column, or neighbours of at most
 * 2 KiB together) has its own; every byte is under exactly one. A reader
 * checks what it reads: a single-series read checks the header and that
 * series' chunk, so it reads a few bytes a column besides its own; damage in
 * another chunk is left for the readers of that chunk, and blk_info() and
 * blk_decode_all() check every CRC. Version 1 blocks (one CRC over the whole
 * block, which every reader checks) still decode. A decoder given a corrupted
 * or truncated block returns -EBADMSG for the parts it reads, never reads
 * outside the block, never allocates more than its documented bound.
 *
 * All functions are pure (no I/O, no logging) and may be called from any
 * thread on distinct outputs.
 */
#ifndef AM_STORE_CODEC_H
#define AM_STORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLK_MAX_ROWS 65536 /* a block never holds more snapshots */
#define BLK_MAX_COLS 65536

/* A growable byte buffer (the encoder's output): zero-initialise it; the
 * owner frees buf with bytebuf_done() (which accepts NULL and may be called
 * twice). */
struct bytebuf {
    uint8_t *buf;
    size_t len, cap;
};
void bytebuf_done(struct bytebuf *b);

/* One column to encode: values[0..n_rows), NaN = absent (any NaN: absent
 * cells decode as the default NaN). decimals: the precision the values are
 * known to have, 0..9, or -1 when unknown. Informational: the encoder finds
 * the fewest decimals that reproduce every value by itself (about one trial a
 * value), since a scale larger than needed compresses large values worse. */
struct blk_column {
    uint32_t series_id;
    int decimals;
    const double *values;
};

/*
 * Appends one block to out: n_rows (1..BLK_MAX_ROWS) timestamps (ms, strictly
 * increasing) and n_cols (0..BLK_MAX_COLS) columns (series ids distinct,
 * decimals -1..9), in any order: the block holds them by increasing id.
 * 0, -EINVAL (bad arguments), -ENOMEM; on failure out->len is as it was. The
 * caller keeps ownership of its arrays; out grows by realloc(). Works with
 * O(n_rows + n_cols) temporary memory.
 */
int blk_encode(const int64_t *ts_ms, size_t n_rows, const struct blk_column *cols, size_t n_cols,
               struct bytebuf *out);

/* What a block holds, from its header (cheap: every checksum and the column
 * headers are checked, no column is decoded). */
struct blk_info {
    size_t n_rows, n_cols;
    int64_t first_ts, last_ts;
};

/* 0, or -EBADMSG for a block that is malformed or fails its checksum. */
int blk_info(const uint8_t *blk, size_t len, struct blk_info *info);

/* Decodes the timestamps into ts[0..info.n_rows). 0 or -EBADMSG (then ts may
 * have been written, but nothing is written when the header is refused).
 * Checks the header's checksum (version 1: the block's), not the columns':
 * it may succeed on a block that blk_info() refuses for a damaged column. */
int blk_decode_ts(const uint8_t *blk, size_t len, int64_t *ts);

/*
 * Decodes the column of series_id into values[0..n_rows) (NaN where absent),
 * n_rows being the header's (what blk_info() gives for a sound block).
 * Returns 1 when the block has the series (the first column of that id), 0
 * when it has not (values all NaN), -EBADMSG when what it reads is malformed
 * (values may have been written, but nothing is written when the header is
 * refused). Allocates nothing. Version 2: checks the header's checksum and
 * that of the series' chunk, and reads the directory (a few bytes a column),
 * not the other columns: it succeeds on a block whose damage lies in other
 * chunks (blk_info() and blk_decode_all() refuse such a block). Version 1:
 * reads the whole block, whose checksum covers it all.
 */
int blk_decode_series(const uint8_t *blk, size_t len, uint32_t series_id, double *values);

/*
 * The timestamps and up to 16 series at once, with one walk over the
 * directory (what a query of a series' tier aggregates needs): ts gets the
 * block's rows, values[i] the column of ids[i] (NaN where absent or when the
 * block lacks it); the arrays hold cap entries. Returns the number of rows,
 * or -EBADMSG (also for a block of more than cap rows). Checks what
 * blk_decode_series() of each id checks, and nothing is written unless all of
 * those checksums hold.
 */
long blk_decode_multi(const uint8_t *blk, size_t len, size_t cap, int64_t *ts, const uint32_t *ids,
                      size_t n, double *const *values);

/* Calls fn for every column, in block order (version 2: by increasing id;
 * version 1: the encoder's order), with its decoded values (n_rows entries,
 * NaN where absent; the array belongs to the walk and is reused between
 * calls). 0, -EBADMSG, -ENOMEM, or fn's own negative return, which stops the
 * walk. Every checksum is checked first: a block with a damaged chunk
 * delivers nothing; a column malformed under a sound checksum stops the walk
 * at that column (the columns before it have been delivered). Allocates
 * n_rows doubles (at most 512 KiB), freed before it returns. */
int blk_decode_all(const uint8_t *blk, size_t len,
                   int (*fn)(void *ctx, uint32_t series_id, const double *values, size_t n_rows),
                   void *ctx);

/* CRC-32C (Castagnoli) of buf, as the blocks' checksums use it: the CPU's
 * crc32 instruction where it has one (x86-64 with SSE4.2), else
 * blk_crc32c_sw(). */
uint32_t blk_crc32c(const uint8_t *buf, size_t len);

/* Internal, for the tests: the portable table implementation, which must give
 * the same value as the hardware path for every buffer. */
uint32_t blk_crc32c_sw(const uint8_t *buf, size_t len);

/* Internal, for the tests and the fuzz target: blk_encode() in format
 * version 1 (what encoders before version 2 wrote: the columns in the
 * caller's order, one CRC at the end; chunk_log2 unused), to check that such
 * blocks still decode, or version 2 with chunks of up to 2^chunk_log2 bytes
 * (0..63: 0 gives every column its own CRC). blk_encode() writes version 2
 * with BLK_CHUNK_LOG2. -EINVAL for another version. */
#define BLK_CHUNK_LOG2 11
int blk_encode_as(const int64_t *ts_ms, size_t n_rows, const struct blk_column *cols, size_t n_cols,
                  unsigned version, unsigned chunk_log2, struct bytebuf *out);

#endif

/* The tick journal's reader (src/store/journal.c) on arbitrary bytes.
 *
 * The first byte chooses: bit 0 set, the rest has its header made valid and
 * each record's CRC recomputed as it is walked (so that mutations reach what
 * lies behind the checks). Whatever the bytes: no crash, no read outside
 * them, the walk ends within them at a record boundary, and every record it
 * reports is one jr_view() finds in place, with the same payload. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"
#include "store/journal.h"

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

struct walk {
    const uint8_t *buf;
    size_t len;
    uint64_t next; /* where the next record must start */
    size_t n;
};

static int each(void *ctx, int64_t ts, uint64_t off, const uint8_t *payload, uint32_t plen)
{
    struct walk *w = ctx;
    struct jr_rec r = {ts, off, plen};

    CHECK(off == w->next);
    CHECK(off + JR_REC_HDR_LEN + plen <= w->len);
    CHECK(payload == w->buf + off + JR_REC_HDR_LEN);
    CHECK(jr_view(w->buf, w->len, &r) == payload);
    r.ts ^= 1; /* another time: not this record */
    CHECK(jr_view(w->buf, w->len, &r) == NULL);
    w->next = off + JR_REC_HDR_LEN + plen;
    w->n++;
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A valid header, and each record's CRC made right, as far as lengths allow. */
static void fix_up(uint8_t *b, size_t len)
{
    size_t off = JR_HDR_LEN;

    if (len < JR_HDR_LEN)
        return;
    memcpy(b, "ARMNJRN", 7);
    b[7] = (b[7] & 1) ? '2' : '1';
    while (len - off >= JR_REC_HDR_LEN) {
        uint32_t plen = (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
                        (uint32_t)b[off + 3] << 24;
        if (plen > len - off - JR_REC_HDR_LEN)
            break;
        put32(b + off + 4, blk_crc32c(b + off + 8, 8 + (size_t)plen));
        off += JR_REC_HDR_LEN + plen;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct walk w;
    uint64_t db_id, gen, end;
    uint8_t *b;

    if (size < 1)
        return 0;
    b = malloc(size);
    if (!b)
        return 0;
    memcpy(b, data + 1, size - 1);
    if (data[0] & 1)
        fix_up(b, size - 1);
    w = (struct walk){b, size - 1, JR_HDR_LEN, 0};
    if (jr_parse_header(b, size - 1, &db_id, &gen) > 0) {
        end = jr_scan(b, size - 1, each, &w);
        CHECK(end == w.next);
        CHECK(end <= size - 1);
    } else {
        CHECK(size - 1 < JR_HDR_LEN || memcmp(b, "ARMNJRN", 7) != 0 ||
              (b[7] != '1' && b[7] != '2'));
    }
    free(b);
    return 0;
}

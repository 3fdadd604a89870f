#include "procparse.h"

#include <errno.h>
#include <string.h>

#include "common/parse.h"

static bool starts_with(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);

    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

static const char *line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));

    return nl ? nl : end;
}

/* ---- /proc/stat ---- */

static int parse_cpu_fields(const char *p, const char *eol, struct cpu_times *t)
{
    unsigned n = 0;

    memset(t, 0, sizeof(*t));
    while (n < CPU_NFIELDS) {
        uint64_t v;
        const char *q = skip_blanks(p, eol);
        if (q >= eol)
            break;
        if (scan_u64(&q, eol, &v) < 0)
            return -EINVAL;
        if (q < eol && *q != ' ' && *q != '\t')
            return -EINVAL;
        t->v[n++] = v;
        p = q;
    }
    if (n < 4) /* user nice system idle: present since Linux 1.x */
        return -EINVAL;
    t->nfields = n;
    return 0;
}

int pp_stat(const char *buf, size_t len, struct cpu_times *total, struct cpu_times *cores,
            bool *online, unsigned max_cores, unsigned *ret_max_id)
{
    const char *p = buf, *end = buf + len;
    bool have_total = false;
    unsigned max_id = 0;

    for (unsigned i = 0; i < max_cores; i++)
        online[i] = false;
    while (p < end) {
        const char *eol = line_end(p, end);

        if (starts_with(p, eol, "cpu ")) {
            if (parse_cpu_fields(p + 3, eol, total) < 0)
                return -EINVAL;
            have_total = true;
        } else if (starts_with(p, eol, "cpu") && p + 3 < eol && p[3] >= '0' && p[3] <= '9') {
            const char *q = p + 3;
            uint64_t id;
            struct cpu_times t;

            if (scan_u64(&q, eol, &id) == 0 && id < PP_MAX_CPUS && q < eol && *q == ' ' &&
                parse_cpu_fields(q, eol, &t) == 0) {
                if (id + 1 > max_id)
                    max_id = (unsigned)id + 1;
                if (id < max_cores) {
                    cores[id] = t;
                    online[id] = true;
                }
            }
        } else if (have_total && !starts_with(p, eol, "cpu")) {
            break; /* the cpu lines come first; the rest (intr, ctxt...) is not needed */
        }
        p = eol < end ? eol + 1 : end;
    }
    if (!have_total)
        return -EINVAL;
    *ret_max_id = max_id;
    return 0;
}

/* ---- /proc/meminfo ---- */

int pp_meminfo(const char *buf, size_t len, struct meminfo *ret)
{
    static const struct {
        const char *name;
        size_t len;
    } keys[MI_NFIELDS] = {
        [MI_MEMTOTAL] = {"MemTotal:", 9},
        [MI_MEMFREE] = {"MemFree:", 8},
        [MI_MEMAVAILABLE] = {"MemAvailable:", 13},
        [MI_BUFFERS] = {"Buffers:", 8},
        [MI_CACHED] = {"Cached:", 7},
        [MI_SWAPTOTAL] = {"SwapTotal:", 10},
        [MI_SWAPFREE] = {"SwapFree:", 9},
        [MI_COMMITTED_AS] = {"Committed_AS:", 13},
    };
    const char *p = buf, *end = buf + len;
    unsigned all = (1u << MI_NFIELDS) - 1;

    memset(ret, 0, sizeof(*ret));
    while (p < end && ret->present != all) {
        const char *eol = line_end(p, end);

        for (unsigned i = 0; i < MI_NFIELDS; i++) {
            const char *q;
            uint64_t v;

            if ((ret->present & (1u << i)) || (size_t)(eol - p) < keys[i].len ||
                memcmp(p, keys[i].name, keys[i].len) != 0)
                continue;
            q = p + keys[i].len;
            if (scan_u64(&q, eol, &v) == 0) {
                q = skip_blanks(q, eol);
                /* values are in kB; a unit-less line is a page count we do not read */
                if (eol - q >= 2 && q[0] == 'k' && q[1] == 'B' && v <= UINT64_MAX / 1024) {
                    ret->kb[i] = v;
                    ret->present |= 1u << i;
                }
            }
            break;
        }
        p = eol < end ? eol + 1 : end;
    }
    return ret->present ? 0 : -EINVAL;
}

/* ---- /proc/diskstats ---- */

static bool copy_name(char *dst, size_t dstlen, const char *tok, size_t toklen)
{
    if (toklen == 0 || toklen >= dstlen)
        return false;
    memcpy(dst, tok, toklen);
    dst[toklen] = '\0';
    return true;
}

int pp_diskstats(const char *buf, size_t len, pp_diskstat_fn fn, void *ctx)
{
    const char *p = buf, *end = buf + len;
    int bad = 0;

    while (p < end) {
        const char *eol = line_end(p, end);
        const char *q = p;
        struct diskstat d;
        uint64_t major, minor, f[7];
        const char *tok;
        size_t toklen;
        bool ok = true;

        if (skip_blanks(q, eol) == eol) {
            p = eol < end ? eol + 1 : end;
            continue;
        }
        /* major minor name reads merged sectors ms writes merged sectors ... */
        if (scan_u64(&q, eol, &major) < 0 || scan_u64(&q, eol, &minor) < 0 ||
            scan_word(&q, eol, &tok, &toklen) < 0 || major > UINT32_MAX || minor > UINT32_MAX ||
            !copy_name(d.name, sizeof(d.name), tok, toklen))
            ok = false;
        for (unsigned i = 0; ok && i < 7; i++)
            if (scan_u64(&q, eol, &f[i]) < 0)
                ok = false;
        if (ok) {
            d.major = (unsigned)major;
            d.minor = (unsigned)minor;
            d.reads = f[0];
            d.sectors_read = f[2];
            d.writes = f[4];
            d.sectors_written = f[6];
            fn(ctx, &d);
        } else {
            bad++;
        }
        p = eol < end ? eol + 1 : end;
    }
    return bad;
}

/* ---- /proc/net/dev ---- */

int pp_net_dev(const char *buf, size_t len, pp_netdev_fn fn, void *ctx)
{
    const char *p = buf, *end = buf + len;
    int bad = 0;

    while (p < end) {
        const char *eol = line_end(p, end);
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        const char *name, *q;
        uint64_t f[16];
        struct netdev d;
        bool ok = true;

        /* two header lines contain '|' and no ':' before it */
        if (!colon || memchr(p, '|', (size_t)(eol - p))) {
            if (!memchr(p, '|', (size_t)(eol - p)) && skip_blanks(p, eol) != eol)
                bad++;
            p = eol < end ? eol + 1 : end;
            continue;
        }
        name = skip_blanks(p, colon);
        if (!copy_name(d.name, sizeof(d.name), name, (size_t)(colon - name)) ||
            memchr(name, ' ', (size_t)(colon - name)) || memchr(name, '\0', (size_t)(colon - name)))
            ok = false;
        q = colon + 1;
        for (unsigned i = 0; ok && i < 16; i++)
            if (scan_u64(&q, eol, &f[i]) < 0)
                ok = false;
        if (ok) {
            d.rx_bytes = f[0];
            d.rx_packets = f[1];
            d.tx_bytes = f[8];
            d.tx_packets = f[9];
            fn(ctx, &d);
        } else {
            bad++;
        }
        p = eol < end ? eol + 1 : end;
    }
    return bad;
}

/* ---- /proc/net/snmp ---- */

int pp_net_snmp_tcp(const char *buf, size_t len, struct tcp_snmp *ret)
{
    const char *p = buf, *end = buf + len;

    while (p < end) {
        const char *eol = line_end(p, end);

        if (starts_with(p, eol, "Tcp: ") && p + 5 < eol && !(p[5] >= '0' && p[5] <= '9') &&
            p[5] != '-') {
            /* header line: find the columns, then read the value line below */
            const char *h = p + 4, *v = eol < end ? eol + 1 : end;
            const char *veol = line_end(v, end);
            bool got_out = false, got_retr = false;
            struct tcp_snmp r = {0};

            if (!starts_with(v, veol, "Tcp: "))
                return -EINVAL;
            v += 4;
            for (;;) {
                const char *tok;
                size_t toklen;
                int64_t val;

                if (scan_word(&h, eol, &tok, &toklen) < 0)
                    break;
                if (scan_i64(&v, veol, &val) < 0)
                    return -EINVAL;
                if (toklen == 7 && !memcmp(tok, "OutSegs", 7)) {
                    r.out_segs = (uint64_t)val;
                    got_out = true;
                } else if (toklen == 11 && !memcmp(tok, "RetransSegs", 11)) {
                    r.retrans_segs = (uint64_t)val;
                    got_retr = true;
                } else if (toklen == 11 && !memcmp(tok, "ActiveOpens", 11)) {
                    r.active_opens = (uint64_t)val;
                } else if (toklen == 12 && !memcmp(tok, "PassiveOpens", 12)) {
                    r.passive_opens = (uint64_t)val;
                } else if (toklen == 9 && !memcmp(tok, "CurrEstab", 9)) {
                    r.curr_estab = (uint64_t)val;
                }
            }
            if (!got_out || !got_retr)
                return -EINVAL;
            *ret = r;
            return 0;
        }
        p = eol < end ? eol + 1 : end;
    }
    return -ENOENT;
}

int pp_sockstat_used(const char *buf, size_t len, uint64_t *ret_used)
{
    const char *p = buf, *end = buf + len;

    while (p < end) {
        const char *eol = line_end(p, end);

        if (starts_with(p, eol, "sockets: used ")) {
            const char *q = p + 14;
            uint64_t v;
            if (scan_u64(&q, eol, &v) < 0)
                return -EINVAL;
            *ret_used = v;
            return 0;
        }
        p = eol < end ? eol + 1 : end;
    }
    return -ENOENT;
}

/* ---- /proc/PID/stat ---- */

int pp_pid_stat(const char *buf, size_t len, struct pid_stat *ret)
{
    const char *end = buf + len;
    const char *open = memchr(buf, '(', len);
    const char *close = NULL, *q;
    struct pid_stat r;
    uint64_t f;
    size_t clen;

    /* the command name may itself contain ')' and spaces: the last ')' ends it */
    for (const char *c = end; c > buf; c--) {
        if (c[-1] == ')') {
            close = c - 1;
            break;
        }
    }
    if (!open || !close || close < open)
        return -EINVAL;
    memset(&r, 0, sizeof(r));
    clen = (size_t)(close - open - 1);
    if (clen >= sizeof(r.comm))
        clen = sizeof(r.comm) - 1;
    memcpy(r.comm, open + 1, clen);
    r.comm[clen] = '\0';
    q = skip_blanks(close + 1, end);
    if (q >= end || *q < 'A' || *q > 'z')
        return -EINVAL;
    r.state = *q++;
    /* fields 4.. (1-based); we need 14 utime, 15 stime, 22 starttime, 23 vsize, 24 rss */
    for (unsigned field = 4; field <= 24; field++) {
        int64_t sv;
        if (field == 24 || field <= 9 || (field >= 16 && field <= 21)) {
            /* signed fields (ppid.., cutime, priority, nice...) and rss */
            if (scan_i64(&q, end, &sv) < 0)
                return -EINVAL;
            if (field == 24)
                r.rss = sv > 0 ? (uint64_t)sv : 0;
            continue;
        }
        if (scan_u64(&q, end, &f) < 0)
            return -EINVAL;
        switch (field) {
        case 14:
            r.utime = f;
            break;
        case 15:
            r.stime = f;
            break;
        case 22:
            r.starttime = f;
            break;
        case 23:
            r.vsize = f;
            break;
        default:
            break;
        }
    }
    *ret = r;
    return 0;
}

/* ---- /proc/cpuinfo ---- */

int pp_cpuinfo_mhz(const char *buf, size_t len, double *ret_sum, unsigned *ret_count)
{
    const char *p = buf, *end = buf + len;
    double sum = 0;
    unsigned n = 0;

    while (p < end) {
        const char *eol = line_end(p, end);

        if (starts_with(p, eol, "cpu MHz")) {
            const char *colon = memchr(p, ':', (size_t)(eol - p));
            double v;
            if (colon) {
                const char *q = colon + 1;
                if (scan_decimal(&q, eol, &v) == 0 && v > 0 && v < 1e6) {
                    sum += v;
                    n++;
                }
            }
        }
        p = eol < end ? eol + 1 : end;
    }
    if (!n)
        return -ENOENT;
    *ret_sum = sum;
    *ret_count = n;
    return 0;
}

/* ---- /proc/net/tcp ---- */

static int hex_u32(const char **p, const char *end, unsigned *ret)
{
    const char *q = *p;
    unsigned v = 0, n = 0;

    while (q < end && n < 8) {
        char c = *q;
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            break;
        v = v * 16 + d;
        q++;
        n++;
    }
    if (!n)
        return -EINVAL;
    *p = q;
    *ret = v;
    return 0;
}

/* "0100007F:1F90" or the 32-hex-digit IPv6 form: skip the address, read the port */
static int addr_port(const char **p, const char *end, unsigned *ret_port)
{
    const char *q = skip_blanks(*p, end);
    const char *colon = q;

    while (colon < end && *colon != ':' && *colon != ' ')
        colon++;
    if (colon >= end || *colon != ':' || colon == q)
        return -EINVAL;
    q = colon + 1;
    if (hex_u32(&q, end, ret_port) < 0 || *ret_port > 65535)
        return -EINVAL;
    *p = q;
    return 0;
}

int pp_net_tcp(const char *buf, size_t len, pp_tcp_fn fn, void *ctx)
{
    const char *p = buf, *end = buf + len;
    int bad = 0;

    while (p < end) {
        const char *eol = line_end(p, end);
        const char *q = skip_blanks(p, eol);
        struct tcp_conn c;
        uint64_t slot;

        if (q == eol || starts_with(q, eol, "sl ")) {
            p = eol < end ? eol + 1 : end;
            continue;
        }
        if (scan_u64(&q, eol, &slot) == 0 && q < eol && *q == ':' && (q++, true) &&
            addr_port(&q, eol, &c.local_port) == 0 && addr_port(&q, eol, &c.remote_port) == 0 &&
            (q = skip_blanks(q, eol), hex_u32(&q, eol, &c.state) == 0)) {
            fn(ctx, &c);
        } else {
            bad++;
        }
        p = eol < end ? eol + 1 : end;
    }
    return bad;
}

/* ---- small values ---- */

int pp_single_i64(const char *buf, size_t len, int64_t *ret)
{
    const char *p = buf, *end = buf + len;
    int64_t v;

    if (scan_i64(&p, end, &v) < 0)
        return -EINVAL;
    p = skip_blanks(p, end);
    if (p < end && *p == '\n')
        p++;
    if (p != end)
        return -EINVAL;
    *ret = v;
    return 0;
}

int pp_single_u64(const char *buf, size_t len, uint64_t *ret)
{
    int64_t v;

    if (pp_single_i64(buf, len, &v) < 0 || v < 0)
        return -EINVAL;
    *ret = (uint64_t)v;
    return 0;
}

uint64_t counter_delta(uint64_t prev, uint64_t cur, bool *ret_reset)
{
    const uint64_t wrap = (uint64_t)1 << 32;

    *ret_reset = false;
    if (cur >= prev)
        return cur - prev;
    if (prev < wrap && wrap - prev + cur < (wrap >> 1))
        return wrap - prev + cur;
    *ret_reset = true;
    return cur;
}

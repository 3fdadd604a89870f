/* The /proc, sysfs and sock_diag parsers: none may crash, hang or read outside
 * the buffer, whatever the kernel (or a container's fake procfs) hands us, and
 * what they return must be consistent.
 *
 * The low 4 bits of the first byte pick what the rest of the input is fed to, so
 * each parser gets a clean input and the corpus stays readable ("0cpu  1 2 3..."
 * is a /proc/stat, "6123 (comm) S ..." a /proc/PID/stat):
 *   0 /proc/stat (high 4 bits: how many cores the caller has room for, 0-15)
 *   1 meminfo  2 diskstats  3 net/dev  4 net/snmp  5 net/sockstat
 *   6 PID/stat  7 cpuinfo  8 net/tcp(6)  9 one sysfs integer
 *   10 a sock_diag reply datagram (binary; P2P ports 30303 and 9000)
 *   11 sock_diag requests: a kind byte (% 5: AF_INET, AF_INET6 or both families
 *      dump, an invalid family, an exact lookup), a buffer size (2 bytes LE);
 *      for a dump 2 probe ports then the P2P ports (2 bytes LE each), its
 *      bytecode checked as the kernel would check and run it; for a lookup the
 *      socket (family, state, inet_diag_sockid as raw bytes)
 *   12 counter_delta on two 8-byte counters
 *   13-15 every text parser and sockdiag_parse_each on the same input
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef TCPDIAG_GETSOCK
#define TCPDIAG_GETSOCK 18
#endif

#include "collect/procparse.h"
#include "collect/sockdiag.h"

/* a broken invariant is a crash, under libFuzzer and under the replay test */
#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

static bool name_ok(const char *name, size_t size)
{
    size_t n = strnlen(name, size);

    return n > 0 && n < size;
}

static void on_disk(void *ctx, const struct diskstat *d)
{
    CHECK(name_ok(d->name, sizeof(d->name)));
    CHECK(!strchr(d->name, ' ') && !strchr(d->name, '\n'));
    *(uint64_t *)ctx += d->reads + d->writes + d->sectors_read + d->sectors_written;
}

static void on_dev(void *ctx, const struct netdev *d)
{
    CHECK(name_ok(d->name, sizeof(d->name)));
    CHECK(!strchr(d->name, ' ') && !strchr(d->name, ':') && !strchr(d->name, '\n'));
    *(uint64_t *)ctx += d->rx_bytes + d->tx_bytes + d->rx_packets + d->tx_packets;
}

static void on_tcp(void *ctx, const struct tcp_conn *c)
{
    CHECK(c->local_port <= 65535 && c->remote_port <= 65535);
    *(uint64_t *)ctx += c->local_port + c->remote_port + c->state;
}

static void fuzz_stat(const char *buf, size_t size, unsigned max_cores)
{
    /* exactly the room the caller claims, so a write past it is caught */
    struct cpu_times total, *cores = malloc((max_cores ? max_cores : 1) * sizeof(*cores));
    bool *online = malloc(max_cores ? max_cores : 1);
    unsigned max_id = 0;

    if (cores && online && pp_stat(buf, size, &total, cores, online, max_cores, &max_id) == 0) {
        CHECK(total.nfields >= 4 && total.nfields <= CPU_NFIELDS);
        CHECK(max_id <= PP_MAX_CPUS);
        for (unsigned i = 0; i < max_cores; i++) {
            if (!online[i])
                continue;
            CHECK(i < max_id);
            CHECK(cores[i].nfields >= 4 && cores[i].nfields <= CPU_NFIELDS);
        }
    }
    free(cores);
    free(online);
}

static void fuzz_meminfo(const char *buf, size_t size)
{
    struct meminfo mi;
    int r = pp_meminfo(buf, size, &mi);

    CHECK(mi.present < (1u << MI_NFIELDS));
    CHECK((r == 0) == (mi.present != 0));
    for (unsigned i = 0; i < MI_NFIELDS; i++)
        CHECK((mi.present & (1u << i)) || mi.kb[i] == 0);
}

static void fuzz_snmp(const char *buf, size_t size)
{
    struct tcp_snmp ts;
    int r = pp_net_snmp_tcp(buf, size, &ts);

    CHECK(r == 0 || r == -EINVAL || r == -ENOENT);
}

static void fuzz_pid_stat(const char *buf, size_t size)
{
    struct pid_stat ps;

    if (pp_pid_stat(buf, size, &ps) == 0) {
        CHECK(strnlen(ps.comm, sizeof(ps.comm)) < sizeof(ps.comm));
        CHECK(ps.state >= 'A' && ps.state <= 'z');
    }
}

static void fuzz_cpuinfo(const char *buf, size_t size)
{
    double sum;
    unsigned n;

    if (pp_cpuinfo_mhz(buf, size, &sum, &n) == 0)
        CHECK(n > 0 && sum > 0 && sum < n * 1e6);
}

static void fuzz_single(const char *buf, size_t size)
{
    uint64_t u;
    int64_t i;
    int ru = pp_single_u64(buf, size, &u), ri = pp_single_i64(buf, size, &i);

    /* the unsigned form is the signed one restricted to >= 0 */
    CHECK(ru != 0 || (ri == 0 && i >= 0 && (uint64_t)i == u));
    CHECK(ri != 0 || i < 0 || ru == 0);
}

struct each_ctx {
    unsigned socks, errs;
    int first_err;
};

static void on_sock(void *ctx, uint32_t seq, const struct diag_sock *s)
{
    ((struct each_ctx *)ctx)->socks++;
}

static void on_err(void *ctx, uint32_t seq, int err)
{
    struct each_ctx *c = ctx;

    CHECK(err < 0 && err > -4096);
    if (!c->errs++)
        c->first_err = err;
}

static void fuzz_sockdiag_parse(const char *buf, size_t size)
{
    struct each_ctx c = {0};
    int re = sockdiag_parse_each(buf, size, on_sock, on_err, &c);

    CHECK(re == 0 || re == 1 || re == -EBADMSG);
    /* every socket and error is one message of at least a header */
    CHECK((c.socks + c.errs) * NLMSG_HDRLEN <= size);
}

static bool port_listed(const uint16_t *ports, size_t n, unsigned port)
{
    for (size_t i = 0; i < n; i++)
        if (ports[i] == port)
            return true;
    return false;
}

/* The kernel's inet_diag_bc_audit(): does it accept this program? */
static bool bc_valid_cc(const unsigned char *bc, int len, int cc)
{
    while (len >= 0) {
        struct inet_diag_bc_op op;

        if (cc > len)
            return false;
        if (cc == len)
            return true;
        memcpy(&op, bc, sizeof(op));
        if (op.yes < 4 || op.yes & 3)
            return false;
        len -= op.yes;
        bc += op.yes;
    }
    return false;
}

static bool bc_audit(const unsigned char *bytecode, int bytecode_len)
{
    const unsigned char *bc = bytecode;
    int len = bytecode_len;

    while (len > 0) {
        int min_len = (int)sizeof(struct inet_diag_bc_op);
        struct inet_diag_bc_op op;

        if (len < min_len)
            return false;
        memcpy(&op, bc, sizeof(op));
        switch (op.code) {
        case INET_DIAG_BC_S_EQ:
        case INET_DIAG_BC_D_EQ:
            min_len += (int)sizeof(struct inet_diag_bc_op);
            if (len < min_len)
                return false;
            break;
        case INET_DIAG_BC_JMP:
        case INET_DIAG_BC_NOP:
            break;
        default:
            return false; /* the builder uses nothing else */
        }
        if (op.code != INET_DIAG_BC_NOP) {
            if (op.no < min_len || op.no > len + 4 || op.no & 3)
                return false;
            if (op.no < len && !bc_valid_cc(bytecode, bytecode_len, len - op.no))
                return false;
        }
        if (op.yes < min_len || op.yes > len + 4 || op.yes & 3)
            return false;
        bc += op.yes;
        len -= op.yes;
    }
    return len == 0;
}

/* The kernel's inet_diag_bc_run() on an audited program. */
static bool bc_run(const unsigned char *bc, int len, unsigned sport, unsigned dport)
{
    while (len > 0) {
        struct inet_diag_bc_op op, arg;
        bool yes = true;

        memcpy(&op, bc, sizeof(op));
        switch (op.code) {
        case INET_DIAG_BC_JMP:
            yes = false;
            break;
        case INET_DIAG_BC_S_EQ:
            memcpy(&arg, bc + sizeof(op), sizeof(arg));
            yes = sport == arg.no;
            break;
        case INET_DIAG_BC_D_EQ:
            memcpy(&arg, bc + sizeof(op), sizeof(arg));
            yes = dport == arg.no;
            break;
        default:
            break;
        }
        if (yes) {
            len -= op.yes;
            bc += op.yes;
        } else {
            len -= op.no;
            bc += op.no;
        }
    }
    return len == 0;
}

static void fuzz_sockdiag_lookup(const uint8_t *data, size_t size, unsigned char *buf,
                                 size_t buflen)
{
    struct diag_sock ds = {0};
    size_t idlen = size > 2 ? size - 2 : 0;
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
    int len;

    if (size >= 2) {
        ds.family = data[0];
        ds.state = data[1];
    }
    memcpy(&ds.id, data + (size >= 2 ? 2 : 0), idlen < sizeof(ds.id) ? idlen : sizeof(ds.id));
    len = sockdiag_build_lookup(&ds, 9, buf, buflen);
    if (buflen < NLMSG_LENGTH(sizeof(req))) {
        CHECK(len == -ENOBUFS);
        return;
    }
    CHECK(len == (int)NLMSG_LENGTH(sizeof(req)));
    memcpy(&nlh, buf, sizeof(nlh));
    memcpy(&req, buf + NLMSG_HDRLEN, sizeof(req));
    CHECK(nlh.nlmsg_len == (uint32_t)len && nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
          nlh.nlmsg_flags == NLM_F_REQUEST && nlh.nlmsg_seq == 9);
    CHECK(req.sdiag_family == ds.family && req.sdiag_protocol == IPPROTO_TCP);
    CHECK(memcmp(&req.id, &ds.id, sizeof(ds.id)) == 0);
}

static void fuzz_sockdiag_request(const uint8_t *data, size_t size)
{
    static const int kinds[] = {AF_INET, AF_INET6, SOCKDIAG_ALL_FAMILIES, AF_UNIX, -1};
    uint16_t ports[SOCKDIAG_MAX_PORTS + 2] = {0};
    size_t nports = 0, buflen, reqlen;
    unsigned probe[2];
    int family, len;
    unsigned char *buf;

    if (size < 3)
        return;
    family = kinds[data[0] % 5];
    buflen = (size_t)data[1] | (size_t)data[2] << 8;
    buf = malloc(buflen ? buflen : 1); /* exactly buflen: a write past it is caught */
    if (!buf)
        return;
    if (family == -1) {
        fuzz_sockdiag_lookup(data + 3, size - 3, buf, buflen);
        free(buf);
        return;
    }
    if (size < 7) {
        free(buf);
        return;
    }
    probe[0] = (unsigned)data[3] | (unsigned)data[4] << 8;
    probe[1] = (unsigned)data[5] | (unsigned)data[6] << 8;
    for (size_t i = 7; i + 1 < size && nports < SOCKDIAG_MAX_PORTS + 2; i += 2)
        ports[nports++] = (uint16_t)(data[i] | data[i + 1] << 8);
    reqlen = family == SOCKDIAG_ALL_FAMILIES ? sizeof(struct inet_diag_req)
                                             : sizeof(struct inet_diag_req_v2);
    len = sockdiag_build_dump(family, ports, nports, 7, buf, buflen);
    if (family == AF_UNIX || nports == 0 || nports > SOCKDIAG_MAX_PORTS) {
        CHECK(len == -EINVAL);
    } else if (len == -ENOBUFS) {
        CHECK(buflen < NLMSG_LENGTH(reqlen) + NLA_HDRLEN + 24 * nports - 4);
    } else {
        size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(reqlen);
        struct nlmsghdr nlh;
        struct nlattr attr;
        const unsigned char *bc;
        int bclen;

        CHECK(len > 0 && (size_t)len <= buflen && (size_t)len >= at + NLA_HDRLEN);
        memcpy(&nlh, buf, sizeof(nlh));
        memcpy(&attr, buf + at, sizeof(attr));
        CHECK(nlh.nlmsg_len == (uint32_t)len && nlh.nlmsg_seq == 7 &&
              nlh.nlmsg_flags == (NLM_F_REQUEST | NLM_F_DUMP));
        if (family == SOCKDIAG_ALL_FAMILIES) {
            struct inet_diag_req req;
            memcpy(&req, buf + NLMSG_HDRLEN, sizeof(req));
            CHECK(nlh.nlmsg_type == TCPDIAG_GETSOCK && req.idiag_family == AF_INET);
        } else {
            struct inet_diag_req_v2 req;
            memcpy(&req, buf + NLMSG_HDRLEN, sizeof(req));
            CHECK(nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY && req.sdiag_family == family &&
                  req.sdiag_protocol == IPPROTO_TCP);
        }
        CHECK(attr.nla_type == INET_DIAG_REQ_BYTECODE && attr.nla_len > NLA_HDRLEN);
        CHECK(at + NLA_ALIGN(attr.nla_len) == (size_t)len);
        bc = buf + at + NLA_HDRLEN;
        bclen = attr.nla_len - NLA_HDRLEN;
        CHECK(bc_audit(bc, bclen));
        /* accepted exactly when either port is a P2P port */
        for (size_t i = 0; i < nports; i++) {
            CHECK(bc_run(bc, bclen, ports[i], probe[0]));
            CHECK(bc_run(bc, bclen, probe[1], ports[i]));
        }
        CHECK(bc_run(bc, bclen, probe[0], probe[1]) ==
              (port_listed(ports, nports, probe[0]) || port_listed(ports, nports, probe[1])));
    }
    free(buf);
}

static void fuzz_counter(const uint8_t *data, size_t size)
{
    uint64_t prev = 0, cur = 0, d;
    bool reset;

    if (size < 16)
        return;
    for (unsigned i = 0; i < 8; i++) {
        prev = prev << 8 | data[i];
        cur = cur << 8 | data[8 + i];
    }
    d = counter_delta(prev, cur, &reset);
    if (cur >= prev)
        CHECK(!reset && d == cur - prev);
    else if (reset)
        CHECK(d == cur);
    else
        CHECK(prev < ((uint64_t)1 << 32) && d == ((uint64_t)1 << 32) - prev + cur);
}

static void fuzz_all(const char *buf, size_t size)
{
    uint64_t sink = 0;

    fuzz_stat(buf, size, 16);
    fuzz_meminfo(buf, size);
    pp_diskstats(buf, size, on_disk, &sink);
    pp_net_dev(buf, size, on_dev, &sink);
    fuzz_snmp(buf, size);
    fuzz_pid_stat(buf, size);
    fuzz_cpuinfo(buf, size);
    pp_net_tcp(buf, size, on_tcp, &sink);
    fuzz_single(buf, size);
    fuzz_sockdiag_parse(buf, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t sink = 0, u;
    char *buf;
    unsigned sel;

    if (size == 0)
        return 0;
    sel = data[0];
    data++;
    size--;
    /* an exact-size heap copy: ASan sees any overread, and netlink headers are aligned */
    buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    switch (sel & 0x0f) {
    case 0:
        fuzz_stat(buf, size, sel >> 4);
        break;
    case 1:
        fuzz_meminfo(buf, size);
        break;
    case 2:
        pp_diskstats(buf, size, on_disk, &sink);
        break;
    case 3:
        pp_net_dev(buf, size, on_dev, &sink);
        break;
    case 4:
        fuzz_snmp(buf, size);
        break;
    case 5:
        if (pp_sockstat_used(buf, size, &u) == 0)
            sink += u;
        break;
    case 6:
        fuzz_pid_stat(buf, size);
        break;
    case 7:
        fuzz_cpuinfo(buf, size);
        break;
    case 8:
        pp_net_tcp(buf, size, on_tcp, &sink);
        break;
    case 9:
        fuzz_single(buf, size);
        break;
    case 10:
        fuzz_sockdiag_parse(buf, size);
        break;
    case 11:
        fuzz_sockdiag_request(data, size);
        break;
    case 12:
        fuzz_counter(data, size);
        break;
    default:
        fuzz_all(buf, size);
        break;
    }
    free(buf);
    return 0;
}

#include "sockdiag.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef TCPDIAG_GETSOCK
#define TCPDIAG_GETSOCK 18
#endif

#define LOOKUP_LEN  NLMSG_LENGTH(sizeof(struct inet_diag_req_v2))
#define MAX_LOOKUPS 64

struct sockdiag {
    int fd;
    uint32_t seq;
    char buf[65536];
};

/*
 * Bytecode for "sport == p1 || dport == p1 || sport == p2 || ...":
 *   cond_0 jmp_0 cond_1 jmp_1 ... cond_{k-1}
 * A true cond steps to the jmp after it, which jumps to the very end: accept.
 * A false cond steps over that jmp to the next cond; the last one steps 4 bytes
 * past the end: reject (the kernel accepts only when the program ends exactly).
 */
static size_t build_bytecode(const uint16_t *ports, size_t nports, struct inet_diag_bc_op *out)
{
    size_t k = nports * 2, total = 8 * k + 4 * (k - 1), n = 0, off = 0;

    for (size_t i = 0; i < k; i++) {
        out[n++] = (struct inet_diag_bc_op){
            .code = (i % 2) ? INET_DIAG_BC_D_EQ : INET_DIAG_BC_S_EQ, .yes = 8, .no = 12};
        out[n++] = (struct inet_diag_bc_op){.code = 0, .yes = 0, .no = ports[i / 2]};
        off += 8;
        if (i + 1 < k) {
            out[n++] = (struct inet_diag_bc_op){
                .code = INET_DIAG_BC_JMP, .yes = 4, .no = (unsigned short)(total - off)};
            off += 4;
        }
    }
    return off;
}

int sockdiag_build_dump(int family, const uint16_t *ports, size_t nports, uint32_t seq, void *buf,
                        size_t buflen)
{
    struct nlmsghdr *nlh = buf;
    struct nlattr *attr;
    size_t bclen, reqlen, len;

    if ((family != AF_INET && family != AF_INET6 && family != SOCKDIAG_ALL_FAMILIES) ||
        nports == 0 || nports > SOCKDIAG_MAX_PORTS)
        return -EINVAL;
    bclen = 12 * nports * 2 - 4;
    reqlen = family == SOCKDIAG_ALL_FAMILIES ? sizeof(struct inet_diag_req)
                                             : sizeof(struct inet_diag_req_v2);
    len = NLMSG_LENGTH(reqlen) + NLA_HDRLEN + NLA_ALIGN(bclen);
    if (buflen < len)
        return -ENOBUFS;
    memset(buf, 0, len);
    nlh->nlmsg_len = (uint32_t)len;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq;
    if (family == SOCKDIAG_ALL_FAMILIES) {
        /* the kernel runs this one with AF_UNSPEC: one walk, both families */
        struct inet_diag_req *req = NLMSG_DATA(nlh);
        nlh->nlmsg_type = TCPDIAG_GETSOCK;
        req->idiag_family = AF_INET;
        req->idiag_states = 1u << 1; /* TCP_ESTABLISHED */
        req->idiag_ext = 1u << (INET_DIAG_INFO - 1);
    } else {
        struct inet_diag_req_v2 *req = NLMSG_DATA(nlh);
        nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        req->sdiag_family = (uint8_t)family;
        req->sdiag_protocol = IPPROTO_TCP;
        req->idiag_states = 1u << 1;
        req->idiag_ext = 1u << (INET_DIAG_INFO - 1);
    }
    attr = (struct nlattr *)((char *)NLMSG_DATA(nlh) + NLMSG_ALIGN(reqlen));
    attr->nla_type = INET_DIAG_REQ_BYTECODE;
    attr->nla_len = (uint16_t)(NLA_HDRLEN + bclen);
    if (build_bytecode(ports, nports, (struct inet_diag_bc_op *)((char *)attr + NLA_HDRLEN)) !=
        bclen)
        return -EINVAL;
    return (int)len;
}

int sockdiag_build_lookup(const struct diag_sock *s, uint32_t seq, void *buf, size_t buflen)
{
    struct nlmsghdr *nlh = buf;
    struct inet_diag_req_v2 *req;

    if (buflen < LOOKUP_LEN)
        return -ENOBUFS;
    memset(buf, 0, LOOKUP_LEN);
    nlh->nlmsg_len = LOOKUP_LEN;
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = seq;
    req = NLMSG_DATA(nlh);
    req->sdiag_family = s->family;
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_states = ~0u;
    req->idiag_ext = 1u << (INET_DIAG_INFO - 1);
    req->id = s->id;
    return (int)LOOKUP_LEN;
}

int sockdiag_parse_each(const void *buf, size_t len, sockdiag_sock_fn fn, sockdiag_err_fn efn,
                        void *ctx)
{
    const char *p = buf;
    size_t left = len;

    while (left >= sizeof(struct nlmsghdr)) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
        size_t mlen = nlh->nlmsg_len, adv;

        if (mlen < sizeof(*nlh) || mlen > left)
            return -EBADMSG;
        if (nlh->nlmsg_type == NLMSG_DONE)
            return 1;
        if (nlh->nlmsg_type == NLMSG_ERROR) {
            const struct nlmsgerr *e = NLMSG_DATA(nlh);
            if (mlen < NLMSG_LENGTH(sizeof(*e)))
                return -EBADMSG;
            if (efn)
                efn(ctx, nlh->nlmsg_seq, e->error < 0 && e->error > -4096 ? e->error : -EPROTO);
        } else if ((nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY || nlh->nlmsg_type == TCPDIAG_GETSOCK) &&
                   mlen >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
            const struct inet_diag_msg *m = NLMSG_DATA(nlh);
            size_t alen = mlen - NLMSG_LENGTH(sizeof(*m));
            const char *a = (const char *)m + NLMSG_ALIGN(sizeof(*m));
            struct diag_sock s = {.family = m->idiag_family, .state = m->idiag_state, .id = m->id};

            while (alen >= sizeof(struct nlattr)) {
                const struct nlattr *na = (const struct nlattr *)a;
                size_t nl = na->nla_len;
                if (nl < sizeof(*na) || nl > alen)
                    break;
                if ((na->nla_type & NLA_TYPE_MASK) == INET_DIAG_INFO &&
                    nl - NLA_HDRLEN >= offsetof(struct tcp_info, tcpi_rtt) + 4) {
                    struct tcp_info ti;
                    size_t cp = nl - NLA_HDRLEN < sizeof(ti) ? nl - NLA_HDRLEN : sizeof(ti);
                    memset(&ti, 0, sizeof(ti));
                    memcpy(&ti, a + NLA_HDRLEN, cp);
                    s.rtt_us = ti.tcpi_rtt;
                }
                adv = NLA_ALIGN(nl);
                if (adv >= alen)
                    break;
                a += adv;
                alen -= adv;
            }
            fn(ctx, nlh->nlmsg_seq, &s);
        }
        adv = NLMSG_ALIGN(mlen);
        if (adv >= left)
            break;
        p += adv;
        left -= adv;
    }
    return 0;
}

/* ---- I/O ---- */

int sockdiag_open(struct sockdiag **ret)
{
    struct sockdiag *sd = malloc(sizeof(*sd));

    if (!sd)
        return -ENOMEM;
    sd->seq = 0;
    sd->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (sd->fd < 0) {
        int e = errno;
        free(sd);
        return -e;
    }
    *ret = sd;
    return 0;
}

void sockdiag_free(struct sockdiag *sd)
{
    if (!sd)
        return;
    if (sd->fd >= 0)
        close(sd->fd);
    free(sd);
}

static int send_all(struct sockdiag *sd, const void *req, size_t len)
{
    struct sockaddr_nl nladdr = {.nl_family = AF_NETLINK};

    while (sendto(sd->fd, req, len, 0, (struct sockaddr *)&nladdr, sizeof(nladdr)) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* Drops whatever an earlier, interrupted exchange left queued. */
static void drain(struct sockdiag *sd)
{
    while (recv(sd->fd, sd->buf, sizeof(sd->buf), MSG_DONTWAIT) > 0)
        ;
}

struct dump_ctx {
    sockdiag_sock_fn fn;
    void *ctx;
    int err;
};

static void dump_sock(void *ctx, uint32_t seq, const struct diag_sock *s)
{
    struct dump_ctx *dc = ctx;

    dc->fn(dc->ctx, seq, s);
}

static void dump_err(void *ctx, uint32_t seq, int err)
{
    struct dump_ctx *dc = ctx;

    (void)seq;
    if (!dc->err)
        dc->err = err;
}

int sockdiag_dump(struct sockdiag *sd, int family, const uint16_t *ports, size_t nports,
                  sockdiag_sock_fn fn, void *ctx)
{
    char req[2048];
    struct dump_ctx ec = {.fn = fn, .ctx = ctx};
    int len, r;
    unsigned guard = 0;

    drain(sd);
    len = sockdiag_build_dump(family, ports, nports, ++sd->seq, req, sizeof(req));
    if (len < 0)
        return len;
    r = send_all(sd, req, (size_t)len);
    if (r < 0)
        return r;
    for (;;) {
        ssize_t n = recv(sd->fd, sd->buf, sizeof(sd->buf), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EPIPE;
        r = sockdiag_parse_each(sd->buf, (size_t)n, dump_sock, dump_err, &ec);
        if (ec.err)
            return ec.err;
        if (r != 0)
            return r < 0 ? r : 0;
        if (++guard > 100000)
            return -E2BIG;
    }
}

int sockdiag_lookup(struct sockdiag *sd, const struct diag_sock *socks, size_t n,
                    sockdiag_sock_fn fn, sockdiag_err_fn efn, void *ctx)
{
    char req[MAX_LOOKUPS * LOOKUP_LEN];
    size_t len = 0, replies = 0;
    int r;

    if (n > MAX_LOOKUPS)
        return -E2BIG;
    if (n == 0)
        return 0;
    drain(sd);
    /* sequence numbers 0..n-1 name the sockets; replies are queued before sendto returns */
    for (size_t i = 0; i < n; i++)
        len += (size_t)sockdiag_build_lookup(&socks[i], (uint32_t)i, req + len, sizeof(req) - len);
    r = send_all(sd, req, len);
    if (r < 0)
        return r;
    while (replies < n) {
        ssize_t got = recv(sd->fd, sd->buf, sizeof(sd->buf), replies ? MSG_DONTWAIT : 0);
        const char *p = sd->buf;
        size_t left;

        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break; /* no more: the rest is unanswered, the caller keeps them */
            return -errno;
        }
        if (got == 0)
            break;
        /* count the messages so we know when every request has its answer */
        for (left = (size_t)got; left >= sizeof(struct nlmsghdr);) {
            const struct nlmsghdr *h = (const struct nlmsghdr *)p;
            if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > left)
                break;
            replies++;
            if (NLMSG_ALIGN(h->nlmsg_len) >= left)
                break;
            left -= NLMSG_ALIGN(h->nlmsg_len);
            p += NLMSG_ALIGN(h->nlmsg_len);
        }
        if (sockdiag_parse_each(sd->buf, (size_t)got, fn, efn, ctx) < 0)
            return -EBADMSG;
    }
    return 0;
}

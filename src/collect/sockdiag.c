#include "sockdiag.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef TCP_ESTABLISHED
#define TCP_ESTABLISHED 1
#endif

struct sockdiag {
    int fd;
    uint32_t seq;
    size_t buflen;
    char *buf;
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

int sockdiag_build_request(int family, const uint16_t *ports, size_t nports, uint32_t seq,
                           void *buf, size_t buflen)
{
    struct nlmsghdr *nlh = buf;
    struct inet_diag_req_v2 *req;
    struct nlattr *attr;
    size_t bclen, len;

    if ((family != AF_INET && family != AF_INET6) || nports == 0 || nports > SOCKDIAG_MAX_PORTS)
        return -EINVAL;
    bclen = 12 * nports * 2 - 4;
    len = NLMSG_LENGTH(sizeof(*req)) + NLA_HDRLEN + NLA_ALIGN(bclen);
    if (buflen < len)
        return -ENOBUFS;
    memset(buf, 0, len);
    nlh->nlmsg_len = (uint32_t)len;
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq;
    req = NLMSG_DATA(nlh);
    req->sdiag_family = (uint8_t)family;
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_states = 1u << TCP_ESTABLISHED;
    req->idiag_ext = 1u << (INET_DIAG_INFO - 1);
    attr = (struct nlattr *)((char *)req + NLMSG_ALIGN(sizeof(*req)));
    attr->nla_type = INET_DIAG_REQ_BYTECODE;
    attr->nla_len = (uint16_t)(NLA_HDRLEN + bclen);
    if (build_bytecode(ports, nports, (struct inet_diag_bc_op *)((char *)attr + NLA_HDRLEN)) !=
        bclen)
        return -EINVAL;
    return (int)len;
}

static bool port_match(const uint16_t *ports, size_t nports, unsigned sport, unsigned dport)
{
    for (size_t i = 0; i < nports; i++)
        if (ports[i] == sport || ports[i] == dport)
            return true;
    return false;
}

int sockdiag_parse(const void *buf, size_t len, const uint16_t *ports, size_t nports,
                   struct p2p_acc *acc)
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
            return e->error < 0 && e->error > -4096 ? e->error : -EPROTO;
        }
        if (nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
            mlen >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
            const struct inet_diag_msg *m = NLMSG_DATA(nlh);
            unsigned sport = ntohs(m->id.idiag_sport), dport = ntohs(m->id.idiag_dport);
            if (m->idiag_state == TCP_ESTABLISHED && port_match(ports, nports, sport, dport)) {
                size_t alen = mlen - NLMSG_LENGTH(sizeof(*m));
                const char *a = (const char *)m + NLMSG_ALIGN(sizeof(*m));

                acc->connections++;
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
                        if (ti.tcpi_rtt > 0) {
                            acc->rtt_sum_us += ti.tcpi_rtt;
                            acc->rtt_n++;
                        }
                    }
                    adv = NLA_ALIGN(nl);
                    if (adv >= alen)
                        break;
                    a += adv;
                    alen -= adv;
                }
            }
        }
        adv = NLMSG_ALIGN(mlen);
        if (adv >= left)
            break;
        p += adv;
        left -= adv;
    }
    return 0;
}

int sockdiag_open(struct sockdiag **ret)
{
    struct sockdiag *sd = calloc(1, sizeof(*sd));

    if (!sd)
        return -ENOMEM;
    sd->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (sd->fd < 0) {
        int e = errno;
        free(sd);
        return -e;
    }
    sd->buflen = 32768;
    sd->buf = malloc(sd->buflen);
    if (!sd->buf) {
        close(sd->fd);
        free(sd);
        return -ENOMEM;
    }
    *ret = sd;
    return 0;
}

static int dump(struct sockdiag *sd, int family, const uint16_t *ports, size_t nports,
                struct p2p_acc *acc)
{
    char req[2048];
    struct sockaddr_nl nladdr = {.nl_family = AF_NETLINK};
    int len, r;
    unsigned guard = 0;

    len = sockdiag_build_request(family, ports, nports, ++sd->seq, req, sizeof(req));
    if (len < 0)
        return len;
    if (sendto(sd->fd, req, (size_t)len, 0, (struct sockaddr *)&nladdr, sizeof(nladdr)) < 0)
        return -errno;
    for (;;) {
        ssize_t n = recv(sd->fd, sd->buf, sd->buflen, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EPIPE;
        r = sockdiag_parse(sd->buf, (size_t)n, ports, nports, acc);
        if (r != 0)
            return r < 0 ? r : 0;
        if (++guard > 100000)
            return -E2BIG;
    }
}

int sockdiag_query(struct sockdiag *sd, const uint16_t *ports, size_t nports, struct p2p_acc *ret)
{
    struct p2p_acc acc = {0};
    int r;

    r = dump(sd, AF_INET, ports, nports, &acc);
    if (r < 0)
        return r;
    r = dump(sd, AF_INET6, ports, nports, &acc);
    if (r < 0 && r != -ENOENT && r != -EAFNOSUPPORT)
        return r;
    *ret = acc;
    return 0;
}

void sockdiag_free(struct sockdiag *sd)
{
    if (!sd)
        return;
    if (sd->fd >= 0)
        close(sd->fd);
    free(sd->buf);
    free(sd);
}

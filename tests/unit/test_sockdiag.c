/*
 * P2P connections through sock_diag, against real sockets on loopback: the kernel
 * must accept our filter bytecode and return exactly the established connections
 * on the configured ports (both ends of a loopback connection are local sockets),
 * with an RTT; the pure parser must refuse malformed replies.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "collect/p2p.h"
#include "collect/sockdiag.h"

static int listen_on(int family, uint16_t *ret_port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        close(fd);
        return -1;
    }
    *ret_port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                        : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static int connect_to(int family, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(port);
        len = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(port);
        len = sizeof(*a);
    }
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
    return fd;
}

static void add_sock(void *ctx, uint32_t seq, const struct diag_sock *s)
{
    struct diag_sock *out = ctx;
    size_t *n = (size_t *)&out[63];

    (void)seq;
    if (*n < 62)
        out[(*n)++] = *s;
}

/* Dumps with every request kind return exactly the established sockets on the ports. */
static void dumps_find_the_connections(void **state)
{
    struct sockdiag *sd;
    struct diag_sock found[64];
    size_t *nfound = (size_t *)&found[63];
    uint16_t p, q, r6 = 0, ports[3];
    int lp, lq, l6, c6 = -1, a6 = -1, c[4], a[4];
    const int families[] = {SOCKDIAG_ALL_FAMILIES, AF_INET};

    (void)state;
    assert_int_equal(sockdiag_open(&sd), 0);
    lp = listen_on(AF_INET, &p);
    lq = listen_on(AF_INET, &q);
    l6 = listen_on(AF_INET6, &r6);
    assert_true(lp >= 0 && lq >= 0);
    for (int i = 0; i < 3; i++) {
        c[i] = connect_to(AF_INET, p);
        a[i] = accept(lp, NULL, NULL);
    }
    c[3] = connect_to(AF_INET, q);
    a[3] = accept(lq, NULL, NULL);
    if (l6 >= 0) {
        c6 = connect_to(AF_INET6, r6);
        a6 = accept(l6, NULL, NULL);
    }
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        ports[0] = p;
        *nfound = 0;
        assert_int_equal(sockdiag_dump(sd, families[f], ports, 1, add_sock, found), 0);
        assert_int_equal(*nfound, 6); /* three connections, both ends local */
        for (size_t i = 0; i < *nfound; i++) {
            assert_int_equal(found[i].state, 1);
            assert_true(found[i].rtt_us > 0);
        }
        ports[1] = q;
        ports[2] = 1; /* nothing there */
        *nfound = 0;
        assert_int_equal(sockdiag_dump(sd, families[f], ports, 3, add_sock, found), 0);
        assert_int_equal(*nfound, 8);
    }
    if (l6 >= 0) {
        /* the single legacy walk covers IPv6 too */
        ports[0] = r6;
        *nfound = 0;
        assert_int_equal(sockdiag_dump(sd, SOCKDIAG_ALL_FAMILIES, ports, 1, add_sock, found), 0);
        assert_int_equal(*nfound, 2);
        assert_int_equal(found[0].family, AF_INET6);
        close(c6);
        close(a6);
        close(l6);
    }
    for (int i = 0; i < 4; i++) {
        close(c[i]);
        close(a[i]);
    }
    close(lp);
    close(lq);
    sockdiag_free(sd);
}

/* The tracker: a dump first, exact lookups while nothing changes, which notice
 * closed connections; a new dump when the TCP counters move (and time allows). */
static void tracker_follows_opens_and_closes(void **state)
{
    struct p2p_tracker *t;
    struct p2p_result res;
    uint16_t p;
    int lp, c[5], a[5];
    uint64_t now = 1000000000ull;

    (void)state;
    lp = listen_on(AF_INET, &p);
    assert_true(lp >= 0);
    for (int i = 0; i < 3; i++) {
        c[i] = connect_to(AF_INET, p);
        a[i] = accept(lp, NULL, NULL);
    }
    t = p2p_new(&p, 1, "/proc");
    assert_non_null(t);
    assert_false(p2p_fallback(t));
    assert_int_equal(p2p_sample(t, now, 100, true, &res), 0);
    assert_true(res.dumped);
    assert_int_equal(res.connections, 6);
    assert_true(res.rtt_known && res.rtt_mean_us > 0);

    /* nothing changed: lookups only */
    now += 1000000000ull;
    assert_int_equal(p2p_sample(t, now, 100, true, &res), 0);
    assert_false(res.dumped);
    assert_int_equal(res.connections, 6);
    assert_true(res.rtt_known);

    /* a connection closes: the lookups see both ends go, without a dump */
    close(c[0]);
    close(a[0]);
    now += 1000000000ull;
    assert_int_equal(p2p_sample(t, now, 100, true, &res), 0);
    assert_false(res.dumped);
    assert_int_equal(res.connections, 4);

    /* two new connections: the counters moved; past the spacing, a dump finds them */
    for (int i = 3; i < 5; i++) {
        c[i] = connect_to(AF_INET, p);
        a[i] = accept(lp, NULL, NULL);
    }
    now += P2P_MAX_SPACING_NS;
    assert_int_equal(p2p_sample(t, now, 101, true, &res), 0);
    assert_true(res.dumped);
    assert_int_equal(res.connections, 8);
    /* counters moved again, but within the spacing: no dump yet, still exact for the known */
    now += 1000000ull;
    assert_int_equal(p2p_sample(t, now, 102, true, &res), 0);
    assert_int_equal(res.connections, 8);
    for (int i = 1; i < 5; i++) {
        close(c[i]);
        close(a[i]);
    }
    now += 1000000000ull;
    assert_int_equal(p2p_sample(t, now, 102, true, &res), 0);
    assert_int_equal(res.connections, 0);
    assert_false(res.rtt_known);
    p2p_free(t);
    close(lp);
}

static void request_limits(void **state)
{
    char buf[4096];
    uint16_t ports[SOCKDIAG_MAX_PORTS + 1] = {0};

    (void)state;
    for (int i = 0; i <= SOCKDIAG_MAX_PORTS; i++)
        ports[i] = (uint16_t)(1000 + i);
    assert_int_equal(sockdiag_build_dump(AF_INET, ports, 0, 1, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(sockdiag_build_dump(AF_UNIX, ports, 1, 1, buf, sizeof(buf)), -EINVAL);
    assert_true(sockdiag_build_dump(SOCKDIAG_ALL_FAMILIES, ports, 1, 1, buf, sizeof(buf)) > 0);
    assert_int_equal(
        sockdiag_build_dump(AF_INET, ports, SOCKDIAG_MAX_PORTS + 1, 1, buf, sizeof(buf)), -EINVAL);
    assert_true(sockdiag_build_dump(AF_INET, ports, SOCKDIAG_MAX_PORTS, 1, buf, sizeof(buf)) > 0);
    assert_int_equal(sockdiag_build_dump(AF_INET, ports, 2, 1, buf, 32), -ENOBUFS);
}

struct counts {
    unsigned socks, errs;
    int err;
};

static void count_sock(void *ctx, uint32_t seq, const struct diag_sock *s)
{
    (void)seq;
    (void)s;
    ((struct counts *)ctx)->socks++;
}

static void count_err(void *ctx, uint32_t seq, int err)
{
    struct counts *c = ctx;

    (void)seq;
    c->errs++;
    c->err = err;
}

static void parser_refuses_bad_replies(void **state)
{
    struct {
        struct nlmsghdr h;
        struct nlmsgerr e;
    } err = {.h = {.nlmsg_len = sizeof(err), .nlmsg_type = NLMSG_ERROR}, .e = {.error = -EPERM}};
    struct nlmsghdr done = {.nlmsg_len = sizeof(done), .nlmsg_type = NLMSG_DONE};
    struct nlmsghdr bad = {.nlmsg_len = 4000, .nlmsg_type = SOCK_DIAG_BY_FAMILY};
    struct counts c = {0};

    (void)state;
    assert_int_equal(sockdiag_parse_each(&err, sizeof(err), count_sock, count_err, &c), 0);
    assert_int_equal(c.errs, 1);
    assert_int_equal(c.err, -EPERM);
    assert_int_equal(sockdiag_parse_each(&done, sizeof(done), count_sock, count_err, &c), 1);
    assert_int_equal(sockdiag_parse_each(&bad, sizeof(bad), count_sock, count_err, &c), -EBADMSG);
    /* too short for a header: nothing read */
    assert_int_equal(sockdiag_parse_each(&done, 3, count_sock, count_err, &c), 0);
    assert_int_equal(c.socks, 0);
    assert_int_equal(c.errs, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dumps_find_the_connections),
        cmocka_unit_test(tracker_follows_opens_and_closes),
        cmocka_unit_test(request_limits),
        cmocka_unit_test(parser_refuses_bad_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

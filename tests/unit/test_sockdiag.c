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

static void counts_connections_on_the_ports(void **state)
{
    struct sockdiag *sd;
    struct p2p_acc acc;
    uint16_t p, q, r6 = 0, ports[3];
    int lp, lq, l6, c[8], a[8], n = 0;

    (void)state;
    assert_int_equal(sockdiag_open(&sd), 0);
    lp = listen_on(AF_INET, &p);
    lq = listen_on(AF_INET, &q);
    assert_true(lp >= 0 && lq >= 0);
    for (int i = 0; i < 3; i++) {
        c[n] = connect_to(AF_INET, p);
        a[n++] = accept(lp, NULL, NULL);
    }
    c[n] = connect_to(AF_INET, q);
    a[n++] = accept(lq, NULL, NULL);
    /* a little traffic so the RTT estimate is fresh */
    for (int i = 0; i < n; i++) {
        char b = 'x';
        assert_int_equal(write(c[i], &b, 1), 1);
        assert_int_equal(read(a[i], &b, 1), 1);
    }

    ports[0] = p;
    assert_int_equal(sockdiag_query(sd, ports, 1, &acc), 0);
    assert_int_equal(acc.connections, 6); /* three connections, both ends local */
    assert_int_equal(acc.rtt_n, 6);
    assert_true(acc.rtt_sum_us > 0);
    ports[0] = q;
    assert_int_equal(sockdiag_query(sd, ports, 1, &acc), 0);
    assert_int_equal(acc.connections, 2);
    ports[0] = p;
    ports[1] = q;
    ports[2] = 1; /* nothing there */
    assert_int_equal(sockdiag_query(sd, ports, 3, &acc), 0);
    assert_int_equal(acc.connections, 8);

    /* IPv6 loopback, where the host has it */
    l6 = listen_on(AF_INET6, &r6);
    if (l6 >= 0) {
        int c6 = connect_to(AF_INET6, r6), a6 = accept(l6, NULL, NULL);
        ports[0] = r6;
        assert_int_equal(sockdiag_query(sd, ports, 1, &acc), 0);
        assert_int_equal(acc.connections, 2);
        close(c6);
        close(a6);
        close(l6);
    }

    /* closed connections leave ESTABLISHED: no longer counted */
    for (int i = 0; i < 3; i++) {
        close(c[i]);
        close(a[i]);
    }
    ports[0] = p;
    assert_int_equal(sockdiag_query(sd, ports, 1, &acc), 0);
    assert_int_equal(acc.connections, 0);
    assert_int_equal(acc.rtt_n, 0);
    close(c[3]);
    close(a[3]);
    close(lp);
    close(lq);
    sockdiag_free(sd);
}

static void request_limits(void **state)
{
    char buf[4096];
    uint16_t ports[SOCKDIAG_MAX_PORTS + 1] = {0};

    (void)state;
    for (int i = 0; i <= SOCKDIAG_MAX_PORTS; i++)
        ports[i] = (uint16_t)(1000 + i);
    assert_int_equal(sockdiag_build_request(AF_INET, ports, 0, 1, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(sockdiag_build_request(AF_UNIX, ports, 1, 1, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(
        sockdiag_build_request(AF_INET, ports, SOCKDIAG_MAX_PORTS + 1, 1, buf, sizeof(buf)),
        -EINVAL);
    assert_true(sockdiag_build_request(AF_INET, ports, SOCKDIAG_MAX_PORTS, 1, buf, sizeof(buf)) >
                0);
    assert_int_equal(sockdiag_build_request(AF_INET, ports, 2, 1, buf, 32), -ENOBUFS);
}

static void parser_refuses_bad_replies(void **state)
{
    struct {
        struct nlmsghdr h;
        struct nlmsgerr e;
    } err = {.h = {.nlmsg_len = sizeof(err), .nlmsg_type = NLMSG_ERROR}, .e = {.error = -EPERM}};
    struct nlmsghdr done = {.nlmsg_len = sizeof(done), .nlmsg_type = NLMSG_DONE};
    struct nlmsghdr bad = {.nlmsg_len = 4000, .nlmsg_type = SOCK_DIAG_BY_FAMILY};
    struct p2p_acc acc = {0};
    uint16_t port = 30303;

    (void)state;
    assert_int_equal(sockdiag_parse(&err, sizeof(err), &port, 1, &acc), -EPERM);
    assert_int_equal(sockdiag_parse(&done, sizeof(done), &port, 1, &acc), 1);
    assert_int_equal(sockdiag_parse(&bad, sizeof(bad), &port, 1, &acc), -EBADMSG);
    assert_int_equal(sockdiag_parse(&done, 3, &port, 1, &acc), 0); /* too short: nothing */
    assert_int_equal(acc.connections, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_connections_on_the_ports),
        cmocka_unit_test(request_limits),
        cmocka_unit_test(parser_refuses_bad_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Every /proc, sysfs and sock_diag parser on the same input: none may crash,
 * hang or read outside the buffer, whatever the kernel (or a container's fake
 * procfs) hands us. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collect/procparse.h"
#include "collect/sockdiag.h"

static void on_disk(void *ctx, const struct diskstat *d)
{
    *(uint64_t *)ctx += d->reads + d->writes;
}

static void on_dev(void *ctx, const struct netdev *d)
{
    *(uint64_t *)ctx += d->rx_bytes;
}

static void on_tcp(void *ctx, const struct tcp_conn *c)
{
    *(uint64_t *)ctx += c->local_port;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* copy into an exact-size heap buffer so ASan sees any overread */
    char *buf = malloc(size ? size : 1);
    struct cpu_times total, cores[16];
    bool online[16];
    unsigned max_id;
    struct meminfo mi;
    struct tcp_snmp ts;
    struct pid_stat ps;
    struct p2p_acc acc = {0};
    uint64_t sink = 0, u;
    int64_t i64;
    double sum;
    unsigned n;
    static const uint16_t ports[] = {30303, 9000};

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    pp_stat(buf, size, &total, cores, online, 16, &max_id);
    pp_meminfo(buf, size, &mi);
    pp_diskstats(buf, size, on_disk, &sink);
    pp_net_dev(buf, size, on_dev, &sink);
    pp_net_snmp_tcp(buf, size, &ts);
    pp_sockstat_used(buf, size, &u);
    pp_pid_stat(buf, size, &ps);
    pp_cpuinfo_mhz(buf, size, &sum, &n);
    pp_net_tcp(buf, size, on_tcp, &sink);
    pp_single_u64(buf, size, &u);
    pp_single_i64(buf, size, &i64);
    sockdiag_parse(buf, size, ports, 2, &acc);
    free(buf);
    return 0;
}

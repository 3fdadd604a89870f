#include "summary.h"

#include <string.h>
#include <time.h>

/* Appends " <label><value><unit>", or "-" for an absent value. */
static void put(struct strbuf *sb, const char *label, double v, int dec, const char *unit)
{
    if (IS_SET(v))
        strbuf_printf(sb, "%s%.*f%s", label, dec, v, unit);
    else
        strbuf_printf(sb, "%s-%s", label, unit);
}

void summary_print_line(FILE *out, const struct snapshot *s)
{
    char when[16];
    time_t t = (time_t)s->timestamp;
    struct tm tm;
    struct strbuf sb;

    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%H:%M:%S", &tm);
    strbuf_init(&sb, 4096);
    strbuf_puts(&sb, when);
    put(&sb, " cpu ", s->cpu.usage_percent, 1, "%");
    put(&sb, " ", s->cpu.frequency_mhz, 0, " MHz");
    put(&sb, " | mem ", s->memory.physical_used_mb, 0, "");
    put(&sb, "/", s->memory.physical_total_mb, 0, " MB");
    put(&sb, " swap ", s->memory.swap_used_mb, 0, " MB");
    put(&sb, " | disk r ", s->disk.read_mbps, 2, "");
    put(&sb, " w ", s->disk.write_mbps, 2, " MB/s");
    put(&sb, " ", s->disk.usage_percent, 1, "% used");
    put(&sb, " | net in ", s->network.ingress_kbps, 1, "");
    put(&sb, " out ", s->network.egress_kbps, 1, " KB/s");
    put(&sb, " loss ", s->network.packet_loss_percent, 2, "%");
    put(&sb, " p2p ", s->network.p2p_connections, 0, "");
    put(&sb, " rtt ", s->network.latency_ms, 1, " ms");
    put(&sb, " sockets ", s->network.open_sockets, 0, "");
    put(&sb, " | proc cpu ", s->cpu.process_usage, 1, "%");
    put(&sb, " rss ", s->memory.process_rss_mb, 1, " MB");
    fprintf(out, "%s\n", sb.buf ? sb.buf : "");
    fflush(out);
    strbuf_done(&sb);
}

struct full_ctx {
    FILE *out;
    char group[64];
};

static void print_series(void *ctx, const struct series_desc *d, const struct series_label *l,
                         size_t n, double v)
{
    struct full_ctx *fc = ctx;
    const char *dot = strchr(d->name, '.');
    size_t glen = dot ? (size_t)(dot - d->name) : strlen(d->name);

    if (glen >= sizeof(fc->group))
        glen = sizeof(fc->group) - 1;
    if (strncmp(fc->group, d->name, glen) || fc->group[glen]) {
        memcpy(fc->group, d->name, glen);
        fc->group[glen] = '\0';
        fprintf(fc->out, "\n[%s]\n", fc->group);
    }
    fprintf(fc->out, "  %s", dot ? dot + 1 : d->name);
    for (size_t i = 0; i < n; i++)
        fprintf(fc->out, "%s%s=%s", i ? "," : "{", l[i].key, l[i].value);
    fprintf(fc->out, "%s = %.*f %s\n", n ? "}" : "", d->decimals, v, d->unit);
}

void summary_print_full(FILE *out, const struct snapshot *s)
{
    struct full_ctx fc = {.out = out};

    fprintf(out, "node %s at %llu (over %.3f s)\n", s->node_id ? s->node_id : "-",
            (unsigned long long)s->timestamp, IS_SET(s->interval_sec) ? s->interval_sec : 0.0);
    snapshot_flatten(s, print_series, &fc);
    fprintf(out,
            "\nAbsent figures are not shown; `arthamon snapshot --json` lists them as null.\n");
}

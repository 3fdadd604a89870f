/*
 * Embedding arthamon in a node: start the monitor on its own thread, read the
 * current snapshot and the recent history, stop. Build against libarthamon:
 *   cc embed.c -larthamon -o embed
 * Exits 0 when every step behaved as documented (the test suite runs it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <arthamon/arthamon.h>

static const char config[] = "monitoring:\n"
                             "  sampling_interval_ms: 200\n"
                             "  logging: {level: warn, stdout: true, output_dir: /tmp}\n"
                             "agent:\n"
                             "  data_dir: /tmp/arthamon-embed-example\n"
                             "  console_summary: false\n";

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void print_series(void *userdata, const char *series, double value)
{
    int *count = userdata;
    if ((*count)++ < 8)
        printf("  %s = %g\n", series, value);
}

int main(void)
{
    char err[1024];
    am_monitor *m = NULL;
    am_snapshot *snap, **hist = NULL;
    size_t nhist = 0;
    double cpu;
    char *json = NULL;
    int r, count = 0;

    printf("libarthamon %s (header %d.%d.%d)\n", am_version(), AM_VERSION_MAJOR, AM_VERSION_MINOR,
           AM_VERSION_PATCH);
    r = am_monitor_new_yaml(config, sizeof(config) - 1, err, sizeof(err), &m);
    if (r < 0) {
        fprintf(stderr, "am_monitor_new_yaml: %s\n%s", am_strerror(r), err);
        return 1;
    }
    if (am_monitor_start(m) < 0 || am_monitor_start(m) != -EALREADY) {
        fprintf(stderr, "start: expected success, then -EALREADY\n");
        return 1;
    }
    sleep_ms(1100); /* about five samples */

    snap = am_monitor_current_snapshot(m);
    if (!snap) {
        fprintf(stderr, "no snapshot after a second\n");
        return 1;
    }
    if (am_snapshot_get(snap, "cpu.usage_percent", &cpu) < 0 || cpu < 0 || cpu > 100) {
        fprintf(stderr, "cpu.usage_percent missing or out of range\n");
        return 1;
    }
    printf("snapshot at %llu: cpu %.2f%%\n", (unsigned long long)am_snapshot_timestamp(snap), cpu);
    am_snapshot_foreach(snap, print_series, &count);
    if (am_snapshot_to_json(snap, &json) < 0 || strncmp(json, "{\"node_id\":", 11) != 0) {
        fprintf(stderr, "bad JSON\n");
        return 1;
    }
    printf("JSON: %zu bytes\n", strlen(json));
    am_free(json);
    am_snapshot_release(snap);

    if (am_monitor_history(m, 100, &hist, &nhist) < 0 || nhist < 3) {
        fprintf(stderr, "history: expected at least 3 snapshots, got %zu\n", nhist);
        return 1;
    }
    for (size_t i = 1; i < nhist; i++) {
        if (am_snapshot_timestamp(hist[i]) < am_snapshot_timestamp(hist[i - 1])) {
            fprintf(stderr, "history not oldest first\n");
            return 1;
        }
    }
    printf("history: %zu snapshots\n", nhist);
    am_snapshot_list_release(hist, nhist);

    if (am_monitor_stop(m) < 0 || am_monitor_is_running(m)) {
        fprintf(stderr, "stop failed\n");
        return 1;
    }
    am_monitor_free(m);
    printf("ok\n");
    return 0;
}

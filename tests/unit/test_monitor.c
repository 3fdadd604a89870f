/*
 * The monitor's lifecycle (the seed's start/stop/current/history), reload, and
 * following the node process by pid, pidfile and name across its restarts — with
 * real threads and real child processes.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/monitor.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void base_config(struct config *c, unsigned interval_ms)
{
    config_defaults(c);
    c->monitoring.sampling_interval_ms = interval_ms;
    c->agent.node_id = strdup("test-node");
    c->agent.console_summary = false;
    c->agent.history_size = 5;
}

/* Waits until the monitor has published at least `n` ticks (or ~5 s). */
static void wait_ticks(struct monitor *m, uint64_t n)
{
    struct monitor_stats st;

    for (int i = 0; i < 500; i++) {
        monitor_get_stats(m, &st);
        if (st.ticks >= n)
            return;
        sleep_ms(10);
    }
    fail_msg("monitor did not reach %llu ticks", (unsigned long long)n);
}

static void lifecycle(void **state)
{
    struct config c;
    struct monitor *m;
    struct snapshot *s, *hist[10];
    size_t n;

    (void)state;
    base_config(&c, 100);
    m = monitor_new(&c);
    assert_non_null(m);
    assert_null(monitor_current(m)); /* nothing before the first sample */
    assert_int_equal(monitor_history(m, 10, hist), 0);
    assert_int_equal(monitor_start(m), 0);
    assert_int_equal(monitor_start(m), -EALREADY);
    assert_true(monitor_running(m));
    wait_ticks(m, 7);

    s = monitor_current(m);
    assert_non_null(s);
    assert_string_equal(s->node_id, "test-node");
    assert_true(IS_SET(s->memory.physical_total_mb));
    snapshot_unref(s);

    /* the ring keeps history_size snapshots, oldest first */
    n = monitor_history(m, 10, hist);
    assert_int_equal(n, 5);
    for (size_t i = 1; i < n; i++)
        assert_true(hist[i]->timestamp_ms > hist[i - 1]->timestamp_ms);
    for (size_t i = 0; i < n; i++)
        snapshot_unref(hist[i]);
    assert_int_equal(monitor_history(m, 2, hist), 2);
    snapshot_unref(hist[0]);
    snapshot_unref(hist[1]);

    assert_int_equal(monitor_stop(m), 0);
    assert_false(monitor_running(m));
    assert_int_equal(monitor_stop(m), 0);
    /* a snapshot outlives the monitor's reference to it */
    s = monitor_current(m);
    assert_non_null(s);
    assert_int_equal(monitor_start(m), 0); /* and it starts again */
    wait_ticks(m, 9);
    monitor_free(m);
    assert_true(IS_SET(s->memory.physical_total_mb));
    snapshot_unref(s);
    config_done(&c);
}

static void disabled_does_not_sample(void **state)
{
    struct config c;
    struct monitor *m;

    (void)state;
    base_config(&c, 100);
    c.monitoring.enabled = false;
    m = monitor_new(&c);
    assert_int_equal(monitor_start(m), 0);
    assert_false(monitor_running(m));
    sleep_ms(250);
    assert_null(monitor_current(m));
    monitor_free(m);
    config_done(&c);
}

static void reload_applies_at_next_tick(void **state)
{
    struct config c, eff;
    struct monitor *m;
    struct snapshot *hist[10];
    struct snapshot *s;
    size_t n;

    (void)state;
    base_config(&c, 3600000); /* one tick, then an hour's wait */
    m = monitor_new(&c);
    assert_int_equal(monitor_start(m), 0);
    wait_ticks(m, 1);
    free(c.agent.node_id);
    c.agent.node_id = strdup("renamed");
    c.monitoring.sampling_interval_ms = 100;
    c.agent.history_size = 3;
    assert_int_equal(monitor_reload(m, &c), 0);
    wait_ticks(m, 6); /* the reload woke the sampler: no hour's wait */
    s = monitor_current(m);
    assert_string_equal(s->node_id, "renamed");
    snapshot_unref(s);
    n = monitor_history(m, 10, hist);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        snapshot_unref(hist[i]);
    assert_int_equal(monitor_get_config(m, &eff), 0);
    assert_int_equal(eff.monitoring.sampling_interval_ms, 100);
    config_done(&eff);
    monitor_free(m);
    config_done(&c);
}

static pid_t spawn(const char *name)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_NAME, name);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;)
            pause();
    }
    return pid;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* The newest snapshot's process figures once they refer to a new process. */
static bool process_measured(struct monitor *m)
{
    struct snapshot *s = monitor_current(m);
    bool ok = s && IS_SET(s->cpu.process_usage) && IS_SET(s->memory.process_rss_mb);

    snapshot_unref(s);
    return ok;
}

static void wait_measured(struct monitor *m, bool want)
{
    for (int i = 0; i < 300; i++) {
        if (process_measured(m) == want)
            return;
        sleep_ms(20);
    }
    fail_msg("process figures did not become %s", want ? "present" : "absent");
}

static void follows_the_node_process(void **state)
{
    char dir[] = "/tmp/am-mon-XXXXXX", pidfile[64], name[16];
    struct config c;
    struct monitor *m;
    pid_t a, b;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(pidfile, sizeof(pidfile), "%s/node.pid", dir);

    /* by pidfile: the node restarts under a new pid and is picked up again */
    a = spawn("am-node-a");
    f = fopen(pidfile, "w");
    fprintf(f, "%d\n", (int)a);
    fclose(f);
    base_config(&c, 100);
    c.agent.process.pidfile = strdup(pidfile);
    m = monitor_new(&c);
    assert_int_equal(monitor_start(m), 0);
    wait_measured(m, true);
    b = spawn("am-node-b");
    f = fopen(pidfile, "w");
    fprintf(f, "%d\n", (int)b);
    fclose(f);
    reap(a);
    wait_ticks(m, 3);
    /* gone -> looked up at once -> one baseline tick -> measured again */
    sleep_ms(400);
    wait_measured(m, true);
    reap(b);
    unlink(pidfile);
    wait_measured(m, false);
    monitor_free(m);
    config_done(&c);

    /* by name (comm), the oldest match */
    snprintf(name, sizeof(name), "am-t%d", (int)(getpid() % 100000));
    a = spawn(name);
    base_config(&c, 100);
    c.agent.process.name = strdup(name);
    m = monitor_new(&c);
    assert_int_equal(monitor_start(m), 0);
    wait_measured(m, true);
    reap(a);
    wait_measured(m, false);
    monitor_free(m);
    config_done(&c);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lifecycle),
        cmocka_unit_test(disabled_does_not_sample),
        cmocka_unit_test(reload_applies_at_next_tick),
        cmocka_unit_test(follows_the_node_process),
    };
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_metrics.c — the shared counters: what workers of one endpoint count lands in
 * one file and is summed; histograms are cumulative; names that cannot be file
 * names are dropped; the exposition escapes label values; the settings. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rv-test-metrics.XXXXXX");
    assert_non_null(mkdtemp(dir));
    setenv("RV_METRICS_DIR", dir, 1);
    unsetenv("RV_READY_POLLER_AGE");
    char why[256];
    assert_true(config_load(false, why, sizeof why));
    metrics_reset();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    metrics_reset();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    unsetenv("RV_METRICS_DIR");
    return 0;
}

static char *render(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    metrics_render(f);
    fclose(f);
    return text;
}

static void has(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void test_counts_summed_across_processes(void **state)
{
    (void)state;
    metrics_request_done("me", 200, 0.002);
    pid_t pid = fork();
    if (pid == 0) { /* another worker of the same endpoint */
        metrics_reset();
        metrics_request_done("me", 200, 0.02);
        metrics_request_done("me", 404, 3);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    metrics_request_done("jobs", 500, 0.0005);
    char *t = render();
    has(t, "# TYPE reelvox_http_requests_total counter\n");
    has(t, "reelvox_http_requests_total{endpoint=\"me\",status=\"200\"} 2\n");
    has(t, "reelvox_http_requests_total{endpoint=\"me\",status=\"404\"} 1\n");
    has(t, "reelvox_http_requests_total{endpoint=\"jobs\",status=\"500\"} 1\n");
    has(t, "reelvox_http_request_duration_seconds_bucket{endpoint=\"me\",le=\"0.001\"} 0\n");
    has(t, "reelvox_http_request_duration_seconds_bucket{endpoint=\"me\",le=\"0.0025\"} 1\n");
    has(t, "reelvox_http_request_duration_seconds_bucket{endpoint=\"me\",le=\"0.025\"} 2\n");
    has(t, "reelvox_http_request_duration_seconds_bucket{endpoint=\"me\",le=\"2.5\"} 2\n");
    has(t, "reelvox_http_request_duration_seconds_bucket{endpoint=\"me\",le=\"5\"} 3\n");
    has(t, "reelvox_http_request_duration_seconds_bucket{endpoint=\"me\",le=\"+Inf\"} 3\n");
    has(t, "reelvox_http_request_duration_seconds_sum{endpoint=\"me\"} 3.022\n");
    has(t, "reelvox_http_request_duration_seconds_count{endpoint=\"me\"} 3\n");
    /* jobs sorts before me */
    assert_true(strstr(t, "endpoint=\"jobs\",status") < strstr(t, "endpoint=\"me\",status"));
    free(t);
}

static void test_provider_and_poller(void **state)
{
    (void)state;
    metrics_provider_call("replicate", 201, 0.05);
    metrics_provider_call("replicate", 0, 15);
    metrics_provider_call("replicate", 429, 0.01);
    metrics_poller_pass(0.004);
    char *t = render();
    has(t, "reelvox_provider_calls_total{provider=\"replicate\",status=\"0\"} 1\n");
    has(t, "reelvox_provider_calls_total{provider=\"replicate\",status=\"201\"} 1\n");
    has(t, "reelvox_provider_call_errors_total{provider=\"replicate\"} 2\n");
    has(t, "reelvox_provider_call_duration_seconds_count{provider=\"replicate\"} 3\n");
    has(t, "reelvox_provider_call_duration_seconds_bucket{provider=\"replicate\",le=\"10\"} 2\n");
    has(t, "reelvox_poller_pass_duration_seconds_bucket{le=\"0.005\"} 1\n");
    has(t, "reelvox_poller_pass_duration_seconds_count 1\n");
    free(t);
}

static void test_bad_names_and_values_dropped(void **state)
{
    (void)state;
    metrics_request_done("../etc", 200, 0.1);
    metrics_request_done("Upper", 200, 0.1);
    metrics_request_done(NULL, 200, 0.1);
    metrics_request_done("ok_name", 999, -1); /* status out of range counts as 0 */
    char *t = render();
    assert_null(strstr(t, "etc"));
    assert_null(strstr(t, "Upper"));
    has(t, "reelvox_http_requests_total{endpoint=\"ok_name\",status=\"0\"} 1\n");
    has(t, "reelvox_http_request_duration_seconds_bucket{endpoint=\"ok_name\",le=\"0.001\"} 1\n");
    free(t);
}

static void test_unwritable_dir_drops_counts(void **state)
{
    (void)state;
    setenv("RV_METRICS_DIR", "/proc/rv-no-such/metrics", 1);
    char why[256];
    assert_true(config_load(false, why, sizeof why));
    metrics_reset();
    metrics_request_done("me", 200, 0.1); /* no crash, nothing counted */
    char *t = render();
    assert_null(strstr(t, "endpoint=\"me\""));
    has(t, "# TYPE reelvox_http_requests_total counter\n");
    free(t);
}

static void test_sample_escapes_labels(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    const char *labels[] = {"kind", "a\"b\\c\nd", "status", "ok", NULL};
    metrics_sample(f, "reelvox_x", labels, 2.5);
    metrics_sample(f, "reelvox_y", NULL, 7);
    fclose(f);
    assert_string_equal(text,
                        "reelvox_x{kind=\"a\\\"b\\\\c\\nd\",status=\"ok\"} 2.5\nreelvox_y 7\n");
    free(text);
}

static void test_settings(void **state)
{
    (void)state;
    char why[256];
    unsetenv("RV_METRICS_DIR");
    setenv("RV_DATA_DIR", "/srv/rv", 1);
    assert_true(config_load(false, why, sizeof why));
    assert_string_equal(config->metrics_dir, "/srv/rv/metrics");
    assert_int_equal(config->ready_poller_age, 120);
    setenv("RV_READY_POLLER_AGE", "4", 1);
    assert_false(config_load(false, why, sizeof why));
    assert_non_null(strstr(why, "RV_READY_POLLER_AGE"));
    setenv("RV_READY_POLLER_AGE", "600", 1);
    assert_true(config_load(false, why, sizeof why));
    assert_int_equal(config->ready_poller_age, 600);
    unsetenv("RV_READY_POLLER_AGE");
    unsetenv("RV_DATA_DIR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_summed_across_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provider_and_poller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names_and_values_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_dir_drops_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_escapes_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

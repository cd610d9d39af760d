/* test_db.c — what a failed statement leaves for the log (no server needed). */
#include "unit.h"

#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"

/* SQLSTATE, primary message and constraint; nothing that quotes a row's values. */
static void test_error_text(void **state)
{
    (void)state;
    static const struct {
        const char *state, *primary, *constraint, *want;
    } cases[] = {
        {"23505", "duplicate key value violates unique constraint \"users_email_key\"",
         "users_email_key",
         "SQLSTATE 23505: duplicate key value violates unique constraint \"users_email_key\" "
         "(constraint users_email_key)"},
        /* A data exception's message quotes the input: only the SQLSTATE stays. */
        {"22P02", "invalid input syntax for type uuid: \"ann@example.com\"", NULL,
         "SQLSTATE 22P02"},
        {"22001", "value too long for type character varying(100)", NULL, "SQLSTATE 22001"},
        /* Only the first line of a message. */
        {"P0001", "job 7 is running and cannot become queued\nDETAIL: secret", NULL,
         "SQLSTATE P0001: job 7 is running and cannot become queued"},
        {"XX000", NULL, NULL, "SQLSTATE XX000"},
        {NULL, "lost", NULL, "SQLSTATE none"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        db_error_note(cases[i].state, cases[i].primary, cases[i].constraint);
        assert_string_equal(db_error(), cases[i].want);
        assert_string_equal(db_sqlstate(), cases[i].state ? cases[i].state : "");
    }
    /* Long messages are cut, never overrun. */
    char big[1000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    db_error_note("P0001", big, big);
    assert_true(strlen(db_error()) < 256);
    assert_memory_equal(db_error(), "SQLSTATE P0001: mmm", 19);
}

static void test_error_clear(void **state)
{
    (void)state;
    db_error_note("23505", "duplicate key", "users_email_key");
    db_error_clear();
    assert_string_equal(db_error(), "");
    assert_string_equal(db_sqlstate(), "");
}

/* A stop signal's byte on the self-pipe ends the wait at once, even with the
 * database out of reach (the poller's loop checks stopping, then waits: a signal
 * in between must not be slept through). */
static void test_wait_ends_on_wake(void **state)
{
    (void)state;
    setenv("RV_DATABASE_URL", "host=/nonexistent/reelvox-test dbname=none connect_timeout=1", 1);
    char why[256];
    assert_true(config_load(false, why, sizeof why));
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    alarm(20); /* without the wake the wait would last the full minute */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(db_wait_notify(60000, p[0]), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    alarm(0);
    assert_true((double)(t1.tv_sec - t0.tv_sec) < 10);
    close(p[0]);
    close(p[1]);
    unsetenv("RV_DATABASE_URL");
}

/* Under a transaction pooler without RV_LISTEN_DATABASE_URL nothing LISTENs (a
 * LISTEN through the pooler would stay on one pooled server connection): db_listen
 * connects nowhere, and the wait lasts its timeout, so the poller sweeps on its
 * timer rather than spinning. */
static void test_pooler_listens_nowhere(void **state)
{
    (void)state;
    setenv("RV_DATABASE_URL", "host=/nonexistent/reelvox-test dbname=none connect_timeout=1", 1);
    setenv("RV_DB_POOLER", "transaction", 1);
    char why[256];
    assert_true(config_load(false, why, sizeof why));
    rv_req rq = {0};
    assert_int_equal(db_listen(&rq, "reelvox_jobs"), RV_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(db_wait_notify(200, -1), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(took >= 0.15);
    unsetenv("RV_DB_POOLER");
    unsetenv("RV_DATABASE_URL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_text),
        cmocka_unit_test(test_error_clear),
        cmocka_unit_test(test_wait_ends_on_wake),
        cmocka_unit_test(test_pooler_listens_nowhere),
    };
    return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}

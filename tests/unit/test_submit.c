/* test_submit.c — a submit's outcome: SQL status strings to codes (submit.c) and
 * each code to the contract's answer (jobs_answer in jobs.c). No database: the
 * data part's SQL is covered by the integration tests. */
#include "unit.h"

#include "err.h"
#include "jobs.h"

static const struct {
    const char *sql;
    submit_status status;
    rv_err er; /* jobs_answer's result */
    int http;  /* the contract's status */
} cases[] = {
    {"created", SUBMIT_CREATED, RV_OK, 202},
    {"repeated", SUBMIT_REPEATED, RV_OK, 202},
    {"idempotency_conflict", SUBMIT_IDEMPOTENCY_CONFLICT, RV_E_IDEMPOTENCY_CONFLICT, 409},
    {"rate_limited", SUBMIT_RATE_LIMITED, RV_E_RATE_LIMITED, 429},
    {"insufficient", SUBMIT_INSUFFICIENT, RV_E_INSUFFICIENT_CREDITS, 402},
    {"no_provider", SUBMIT_NO_PROVIDER, RV_E_PROVIDER_UNAVAILABLE, 503},
    {"source_not_found", SUBMIT_SOURCE_NOT_FOUND, RV_E_NOT_FOUND, 404},
    {"voice_not_found", SUBMIT_VOICE_NOT_FOUND, RV_E_NOT_FOUND, 404},
    {"voice_not_active", SUBMIT_VOICE_NOT_ACTIVE, RV_E_INVALID_STATE, 409},
    {"voice_expired", SUBMIT_VOICE_EXPIRED, RV_E_VOICE_EXPIRED, 409},
    {"audio_not_found", SUBMIT_SAMPLE_NOT_FOUND, RV_E_NOT_FOUND, 404},
    {"sample_too_short", SUBMIT_SAMPLE_TOO_SHORT, RV_E_UNPROCESSABLE, 422},
    {"sample_too_long", SUBMIT_SAMPLE_TOO_LONG, RV_E_UNPROCESSABLE, 422},
    {"input_unstorable", SUBMIT_INPUT_UNSTORABLE, RV_E_MALFORMED_JSON, 400},
    {"image_not_found", SUBMIT_IMAGE_NOT_FOUND, RV_E_NOT_FOUND, 404},
    {"project_not_found", SUBMIT_PROJECT_NOT_FOUND, RV_E_NOT_FOUND, 404},
    {"not_found", SUBMIT_VIDEO_NOT_FOUND, RV_E_NOT_FOUND, 404},
    {"invalid_state", SUBMIT_VIDEO_NOT_READY, RV_E_INVALID_STATE, 409},
    {"music_not_found", SUBMIT_MUSIC_NOT_FOUND, RV_E_NOT_FOUND, 404},
};

static void test_status_strings(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        assert_int_equal(submit_status_of(cases[i].sql), cases[i].status);
    assert_int_equal(N_ELEMS(cases), SUBMIT_UNKNOWN); /* a new code needs a row here */
    assert_int_equal(submit_status_of(NULL), SUBMIT_UNKNOWN);
    assert_int_equal(submit_status_of(""), SUBMIT_UNKNOWN);
    assert_int_equal(submit_status_of("Created"), SUBMIT_UNKNOWN);
    assert_int_equal(submit_status_of("created "), SUBMIT_UNKNOWN);
}

static const char *header(const rv_req *rq, const char *name)
{
    for (const rv_header *h = rq->resp_headers; h; h = h->next)
        if (!strcmp(h->name, name))
            return h->value;
    return NULL;
}

static void test_answers(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        arena *a = arena_new();
        char *env[] = {"REQUEST_METHOD=POST", "DOCUMENT_URI=/api/tts", NULL};
        rv_req rq;
        unit_req(&rq, a, env);
        submit_outcome o = {.status = cases[i].status,
                            .job_id = "00000000-0000-4000-8000-00000000000a",
                            .job_json = "{\"id\":\"00000000-0000-4000-8000-00000000000a\"}",
                            .retry_after = 17,
                            .required = 5,
                            .balance = 2};
        rv_err er = jobs_answer(&rq, &o);
        assert_int_equal(er, cases[i].er);
        assert_int_equal(er == RV_OK ? rq.status : err_info(er)->status, cases[i].http);
        if (er == RV_OK) {
            assert_string_equal(header(&rq, "Location"),
                                "/api/jobs/00000000-0000-4000-8000-00000000000a");
            assert_string_equal(rq.resp_body, o.job_json);
        } else {
            assert_non_null(rq.detail); /* every refusal says why */
        }
        arena_free(a);
    }
}

static void test_conflict_detail(void **state)
{
    (void)state;
    arena *a = arena_new();
    char *env[] = {"REQUEST_METHOD=POST", NULL};
    rv_req rq;
    unit_req(&rq, a, env);
    submit_outcome o = {.status = SUBMIT_IDEMPOTENCY_CONFLICT};
    assert_int_equal(jobs_answer(&rq, &o), RV_E_IDEMPOTENCY_CONFLICT);
    assert_non_null(strstr(rq.detail, "Idempotency-Key"));
    assert_string_equal(err_info(RV_E_IDEMPOTENCY_CONFLICT)->code, "idempotency_conflict");
    arena_free(a);
}

static void test_unknown_and_broken_outcomes_are_internal(void **state)
{
    (void)state;
    arena *a = arena_new();
    char *env[] = {"REQUEST_METHOD=POST", NULL};
    rv_req rq;
    unit_req(&rq, a, env);
    submit_outcome unknown = {.status = SUBMIT_UNKNOWN};
    assert_int_equal(jobs_answer(&rq, &unknown), RV_E_INTERNAL);
    submit_outcome past = {.status = (submit_status)(SUBMIT_UNKNOWN + 1)};
    assert_int_equal(jobs_answer(&rq, &past), RV_E_INTERNAL);
    submit_outcome no_job = {.status = SUBMIT_CREATED}; /* created without a job: a bug */
    assert_int_equal(jobs_answer(&rq, &no_job), RV_E_INTERNAL);
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_conflict_detail),
        cmocka_unit_test(test_unknown_and_broken_outcomes_are_internal),
    };
    return cmocka_run_group_tests_name("submit", tests, NULL, NULL);
}

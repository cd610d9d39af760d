/* test_err.c — the error table against the contract (API.md's error table). */
#include "unit.h"

#include <limits.h>

static const struct {
    rv_err er;
    int status;
    const char *code;
} contract[] = {
    {RV_OK, 200, "ok"},
    {RV_E_VALIDATION, 400, "validation_failed"},
    {RV_E_MALFORMED_JSON, 400, "malformed_json"},
    {RV_E_INVALID_TOKEN, 400, "invalid_token"},
    {RV_E_UNAUTHORIZED, 401, "unauthorized"},
    {RV_E_INVALID_CREDENTIALS, 401, "invalid_credentials"},
    {RV_E_TOKEN_EXPIRED, 401, "token_expired"},
    {RV_E_INSUFFICIENT_CREDITS, 402, "insufficient_credits"},
    {RV_E_FORBIDDEN, 403, "forbidden"},
    {RV_E_NOT_FOUND, 404, "not_found"},
    {RV_E_METHOD_NOT_ALLOWED, 405, "method_not_allowed"},
    {RV_E_CONFLICT, 409, "conflict"},
    {RV_E_EMAIL_TAKEN, 409, "email_taken"},
    {RV_E_INVALID_STATE, 409, "invalid_state"},
    {RV_E_IDEMPOTENCY_CONFLICT, 409, "idempotency_conflict"},
    {RV_E_VOICE_EXPIRED, 409, "voice_expired"},
    {RV_E_PAYLOAD_TOO_LARGE, 413, "payload_too_large"},
    {RV_E_UNSUPPORTED_MEDIA, 415, "unsupported_media_type"},
    {RV_E_UNPROCESSABLE, 422, "unprocessable"},
    {RV_E_RATE_LIMITED, 429, "rate_limited"},
    {RV_E_PROVIDER, 502, "provider_error"},
    {RV_E_PROVIDER_UNAVAILABLE, 503, "provider_unavailable"},
    {RV_E_UNAVAILABLE, 503, "unavailable"},
    {RV_E_INTERNAL, 500, "internal"},
};

static void test_contract(void **state)
{
    (void)state;
    assert_int_equal(N_ELEMS(contract), RV_E__COUNT); /* a new value needs a row here */
    for (size_t i = 0; i < N_ELEMS(contract); i++) {
        const rv_err_info *info = err_info(contract[i].er);
        assert_int_equal(info->status, contract[i].status);
        assert_string_equal(info->code, contract[i].code);
    }
}

/* Every row is complete, and codes and slugs name one error each. */
static void test_rows_complete(void **state)
{
    (void)state;
    for (int e = 0; e < RV_E__COUNT; e++) {
        const rv_err_info *info = err_info((rv_err)e);
        assert_non_null(info->code);
        assert_non_null(info->title);
        assert_non_null(info->slug);
        assert_true(*info->code && *info->title && *info->slug);
        assert_true(info->status >= 200 && info->status <= 599);
        assert_string_not_equal(err_reason(info->status), "Unknown");
        for (const char *p = info->slug; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || *p == '-');
        for (int f = 0; f < e; f++) {
            assert_string_not_equal(err_info((rv_err)f)->code, info->code);
            assert_string_not_equal(err_info((rv_err)f)->slug, info->slug);
        }
    }
}

static void test_out_of_range_is_internal(void **state)
{
    (void)state;
    const rv_err_info *internal = err_info(RV_E_INTERNAL);
    static const int bad[] = {RV_E__COUNT, RV_E__COUNT + 1, 1000, -1, INT_MIN, INT_MAX};
    for (size_t i = 0; i < N_ELEMS(bad); i++)
        assert_ptr_equal(err_info((rv_err)bad[i]), internal);
}

static void test_reason(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *reason;
    } cases[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {413, "Content Too Large"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {503, "Service Unavailable"},
        {418, "Unknown"},
        {0, "Unknown"},
        {-1, "Unknown"},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        assert_string_equal(err_reason(cases[i].status), cases[i].reason);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract),
        cmocka_unit_test(test_rows_complete),
        cmocka_unit_test(test_out_of_range_is_internal),
        cmocka_unit_test(test_reason),
    };
    return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}

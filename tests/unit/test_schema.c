/* schema: every admin_config key against good and bad values. */
#include "unit.h"

#include "schema.h"

typedef struct {
    const char *key, *value;
    const char *fields; /* the error fields in order, "" when the value is fine */
} row;

static const row rows[] = {
    /* the defaults of sql/001_accounts.sql and 008_admin.sql are valid */
    {"signup_credits", "100", ""},
    {"referral_bonus", "20", ""},
    {"job_costs",
     "{\"tts\": {\"perChars\": 100, \"credits\": 1}, \"sfx\": {\"flat\": 2},"
     " \"voice_clone\": {\"flat\": 50}, \"voice_conversion\": {\"perSecond\": 0.1, \"min\": 2}}",
     ""},
    {"rate_limits", "{\"generationsPerMinute\": 3}", ""},
    {"providers",
     "{\"kinds\": {\"tts\": [\"replicate\", \"local\"], \"sfx\": [\"replicate\"]},"
     " \"replicate\": {\"models\": {\"tts\": \"minimax/speech-02-turbo\"}, \"cloneSampleRate\": "
     "32000},"
     " \"deadlines\": {\"tts\": 600, \"sfx\": 900}}",
     ""},
    {"referral_limits", "{\"perReferrerPerDay\": 10}", ""},
    {"auth_limits",
     "{\"loginFailures\": 10, \"profileChanges\": 10, \"windowSeconds\": 900,"
     " \"sessionMaxDays\": 90, \"refreshGraceSeconds\": 10}",
     ""},
    {"storage_quota", "{\"bytes\": 1073741824, \"files\": 1000}", ""},
    {"storage_quota", "{\"bytes\": null}", ""},
    {"require_verified", "false", ""},
    {"mail", "{\"verifyTtlSeconds\": 172800, \"resetTtlSeconds\": 3600, \"forgotPerHour\": 3}", ""},
    /* what other work adds: new kinds, new fields */
    {"job_costs",
     "{\"video_clip\": {\"perSecond\": 2, \"min\": 10}, \"video_compile\": {\"perClip\": 3}}", ""},
    {"credit_packs",
     "[{\"id\": \"starter\", \"name\": \"Starter\", \"credits\": 500, \"priceCents\": 499,"
     " \"currency\": \"usd\"}, {\"id\": \"pro\", \"name\": \"Pro\", \"credits\": 5000,"
     " \"priceCents\": 3999, \"currency\": \"eur\", \"popular\": true}]",
     ""},
    {"credit_packs", "[]", ""},
    {"system_prompts",
     "{\"script\": \"You write short scripts.\", \"images\": {\"system\": \"x\"}}", ""},
    {"escrow", "{\"platformFeePercent\": 15, \"holdDays\": 7, \"autoRelease\": true}", ""},
    {"expert_specialties", "[\"narration\", \"dubbing\"]", ""},
    {"expert_specialties", "[{\"id\": \"narration\", \"name\": \"Narration\"}]", ""},

    /* typos and wrong shapes */
    {"signup_credits", "\"100\"", "value"},
    {"signup_credits", "-5", "value"},
    {"signup_credits", "1.5", "value"},
    {"referral_bonus", "null", "value"},
    {"referral_limits", "{\"perReferrerPerDya\": 10}",
     "value.perReferrerPerDay value.perReferrerPerDya"},
    {"rate_limits", "{\"generationsPerMinute\": \"3\"}", "value.generationsPerMinute"},
    {"rate_limits", "{\"generationsPerMinute\": 3, \"burst\": -1}", "value.burst"},
    {"job_costs", "{\"tts\": {\"perChars\": 0, \"credits\": 1}}", "value.tts.perChars"},
    {"job_costs", "{\"tts\": {\"perChars\": 100}}", "value.tts.credits"},
    {"job_costs", "{\"sfx\": {\"flat\": \"2\"}}", "value.sfx.flat"},
    {"job_costs", "{\"sfx\": {\"flat\": -2}}", "value.sfx.flat"},
    {"job_costs", "{\"sfx\": 2}", "value.sfx"},
    {"job_costs", "{\"Bad Kind\": {\"flat\": 1}}", "value.Bad Kind"},
    {"job_costs", "{\"sfx\": {}}", "value.sfx"},
    {"job_costs", "[]", "value"},
    {"providers", "{\"kinds\": {\"tts\": \"replicate\"}}", "value.kinds.tts"},
    {"providers", "{\"deadlines\": {\"tts\": 5}}", "value.kinds value.deadlines.tts"},
    {"providers", "{\"kinds\": {}, \"replicate\": {\"models\": {\"tts\": 7}}}",
     "value.replicate.models.tts"},
    {"storage_quota", "{\"bytes\": -1, \"file\": 3}", "value.bytes value.file"},
    {"require_verified", "\"yes\"", "value"},
    {"auth_limits", "{\"loginFailures\": 10}",
     "value.profileChanges value.windowSeconds value.sessionMaxDays value.refreshGraceSeconds"},
    {"credit_packs",
     "[{\"id\": \"starter\", \"name\": \"Starter\", \"credits\": 500, \"priceCents\": \"4.99\","
     " \"currency\": \"usd\"}]",
     "value[0].priceCents"},
    {"credit_packs",
     "[{\"id\": \"a\", \"name\": \"A\", \"credits\": 1, \"priceCents\": 1, \"currency\": \"USD\"},"
     " {\"id\": \"a\", \"name\": \"B\", \"credits\": 0, \"priceCents\": 1, \"currency\": \"usd\"}]",
     "value[0].currency value[1].credits value[1].id"},
    {"credit_packs", "[{\"id\": \"a\"}]",
     "value[0].name value[0].credits value[0].priceCents value[0].currency"},
    {"credit_packs", "{\"id\": \"a\"}", "value"},
    {"credit_packs",
     "[{\"id\": \"a\", \"name\": \"A\", \"credits\": 1, \"priceCents\": 1, \"currency\": \"usd\", "
     "\"meta\": {}}]",
     "value[0].meta"},
    {"system_prompts", "{\"script\": \"\"}", "value.script"},
    {"escrow", "{\"platformFeePercent\": 150}", "value.platformFeePercent"},
    {"escrow", "{\"holdDays\": -1}", "value.holdDays"},
    {"escrow", "{\"feePercent\": \"x\", \"centsPerCredit\": 0, \"cancelRefundPercent\": 101}",
     "value.centsPerCredit value.feePercent value.cancelRefundPercent"},
    {"expert_specialties", "[\"\", 3]", "value[0] value[1]"},
    {"expert_specialties", "{}", "value"},
};

static void test_rows(void **state)
{
    arena *a = *state;
    for (size_t i = 0; i < N_ELEMS(rows); i++) {
        rv_req rq;
        unit_req(&rq, a, unit_env1(a, "X", NULL));
        json_object *v = strcmp(rows[i].value, "null")
                             ? unit_json(a, rows[i].value, strlen(rows[i].value) + 1)
                             : NULL;
        rv_err er = schema_check(&rq, rows[i].key, v);
        const char *got = unit_error_fields(&rq);
        if (strcmp(got, rows[i].fields))
            fail_msg("%s = %s: errors [%s], want [%s]", rows[i].key, rows[i].value, got,
                     rows[i].fields);
        assert_int_equal(er, *rows[i].fields ? RV_E_VALIDATION : RV_OK);
    }
}

static void test_keys(void **state)
{
    arena *a = *state;
    rv_req rq;
    unit_req(&rq, a, unit_env1(a, "X", NULL));
    for (const char *const *k = schema_keys; *k; k++)
        assert_true(schema_known(*k));
    assert_false(schema_known("nope"));
    assert_false(schema_known(NULL));
    assert_int_equal(schema_check(&rq, "nope", NULL), RV_E_NOT_FOUND);
    /* JSON null is a value like any other: refused where a number is needed */
    assert_int_equal(schema_check(&rq, "signup_credits", NULL), RV_E_VALIDATION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows, unit_arena_setup, unit_arena_teardown),
        cmocka_unit_test_setup_teardown(test_keys, unit_arena_setup, unit_arena_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

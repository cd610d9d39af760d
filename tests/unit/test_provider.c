/* providers: reading Replicate predictions, availability, the poller's backoff. */
#include "unit.h"

#include <stdlib.h>

#include "config.h"
#include "providers/provider.h"
#include "storage.h"
#include "work.h"

static int setup(void **state)
{
    *state = arena_new();
    return 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

/* The providers read their settings from config: loaded again after each change. */
static void reload(void)
{
    char why[256];
    if (!config_load(false, why, sizeof why))
        fail_msg("config_load: %s", why);
}

static prov_status status_of(arena *a, const char *json, bool *ok)
{
    prov_status st;
    json_object *p = unit_json(a, json, strlen(json));
    *ok = prov_replicate_status(a, p, &st);
    return st;
}

static void test_replicate_status(void **state)
{
    arena *a = *state;
    static const struct {
        const char *json;
        bool ok;
        prov_state state;
        const char *url;
        const char *voice;
    } cases[] = {
        {"{\"id\":\"p\",\"status\":\"starting\"}", true, PROV_PENDING, NULL},
        {"{\"id\":\"p\",\"status\":\"processing\"}", true, PROV_RUNNING, NULL},
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":\"http://x/a.wav\"}", true,
         PROV_SUCCEEDED, "http://x/a.wav"},
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":[\"http://x/b.wav\"]}", true,
         PROV_SUCCEEDED, "http://x/b.wav"},
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":{\"audio\":\"http://x/c\"}}", true,
         PROV_SUCCEEDED, "http://x/c"},
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":null}", true, PROV_FAILED, NULL},
        /* minimax/voice-cloning: the voice id, and the preview as the file to keep. */
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":{\"voice_id\":\"v-1\","
         "\"preview\":\"http://x/p.wav\",\"model\":\"speech-02-turbo\"}}",
         true, PROV_SUCCEEDED, "http://x/p.wav", "v-1"},
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":{\"voice_id\":\"\","
         "\"preview\":\"http://x/p.wav\"}}",
         true, PROV_SUCCEEDED, "http://x/p.wav", NULL},
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":{\"voice_id\":7,"
         "\"preview\":\"http://x/p.wav\"}}",
         true, PROV_SUCCEEDED, "http://x/p.wav", NULL},
        {"{\"id\":\"p\",\"status\":\"succeeded\",\"output\":{\"voice_id\":\"v-1\"}}", true,
         PROV_FAILED, NULL, NULL},
        {"{\"id\":\"p\",\"status\":\"failed\",\"error\":\"boom\"}", true, PROV_FAILED, NULL},
        {"{\"id\":\"p\",\"status\":\"aborted\"}", true, PROV_FAILED, NULL},
        {"{\"id\":\"p\",\"status\":\"canceled\"}", true, PROV_CANCELLED, NULL},
        {"{\"id\":\"p\",\"status\":\"weird\"}", false, PROV_PENDING, NULL},
        {"{\"status\":\"succeeded\"}", false, PROV_PENDING, NULL},
        {"{\"id\":\"p\",\"status\":7}", false, PROV_PENDING, NULL},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        bool ok;
        prov_status st = status_of(a, cases[i].json, &ok);
        assert_int_equal(ok, cases[i].ok);
        if (!ok)
            continue;
        assert_int_equal(st.state, cases[i].state);
        assert_string_equal(st.provider_job_id, "p");
        if (cases[i].url)
            assert_string_equal(st.output_url, cases[i].url);
        if (cases[i].voice)
            assert_string_equal(st.voice_id, cases[i].voice);
        else
            assert_null(st.voice_id);
    }
    bool ok;
    prov_status st = status_of(a, "{\"id\":\"p\",\"status\":\"failed\",\"error\":\"boom\"}", &ok);
    assert_string_equal(st.message, "boom");
}

static void test_available(void **state)
{
    arena *a = *state;
    unsetenv("RV_REPLICATE_API_TOKEN");
    unsetenv("RV_RUNWAY_API_KEY");
    reload();
    assert_string_equal(prov_available_for(a, "tts"), "{local}");
    assert_string_equal(prov_available_for(a, "sfx"), "{}");
    setenv("RV_REPLICATE_API_TOKEN", "t", 1);
    reload();
    assert_string_equal(prov_available_for(a, "tts"), "{local,replicate}");
    assert_string_equal(prov_available_for(a, "sfx"), "{replicate}");
    /* The render engine: every video kind at the local provider. */
    assert_string_equal(prov_available_for(a, "video_clip"), "{local}");
    assert_string_equal(prov_available_for(a, "video_compile"), "{local}");
    assert_string_equal(prov_available_for(a, "video_render"), "{local}");
    assert_string_equal(prov_available_for(a, "script"), "{}");
    unsetenv("RV_REPLICATE_API_TOKEN");
    reload();
    assert_non_null(prov_find("local"));
    assert_null(prov_find("nope"));
    assert_null(prov_find(NULL));
}

static bool page_of(const prov_adapter *rep, arena *a, const http_call *c, prov_job *jobs, int n,
                    prov_status *sts, bool *found, long not_before, const char *skip,
                    const char **next)
{
    const char *skips[1] = {skip};
    prov_lookup f = {jobs, n, sts, found, skips, skip ? 1 : 0, not_before};
    return rep->find_page(a, c, &f, next);
}

/* A page of GET /v1/predictions, newest first, read for two rescued jobs. */
static void test_find_page(void **state)
{
    arena *a = *state;
    setenv("RV_REPLICATE_URL", "http://prov.test", 1);
    reload();
    const prov_adapter *rep = prov_find("replicate");
    static const char in1[] = "{\"text\":\"hi\",\"speed\":1.0,\"voice\":{\"providerVoiceIds\":"
                              "{\"replicate\":\"Wise_Woman\"}},\"emotion\":\"auto\"}";
    static const char in2[] = "{\"text\":\"hi again\"}";
    prov_job jobs[2] = {
        {"11111111-1111-4111-8111-111111111111", "tts", NULL, NULL, "t", "u",
         unit_json(a, in1, sizeof in1 - 1), 1795312000},
        {"22222222-2222-4222-8222-222222222222", "tts", "minimax/speech-02-turbo:abc", NULL, "t",
         "u", unit_json(a, in2, sizeof in2 - 1), 1795312000},
    };
    /* The work of job 1 is matched by its input (numbers by value, no webhook
     * field, as Replicate lists them); a look-alike of another model, one with
     * another input and one older than the job are not; job 2 by an echoed webhook. */
    static const char page[] =
        "{\"next\":\"http://prov.test/v1/predictions?cursor=abc\",\"previous\":null,\"results\":["
        "{\"id\":\"w\",\"model\":\"other/model\",\"status\":\"processing\",\"created_at\":"
        "\"2026-11-21T10:00:05.000001Z\",\"input\":{\"text\":\"hi\",\"voice_id\":\"Wise_Woman\","
        "\"speed\":1,\"channel\":\"mono\"}},"
        "{\"id\":\"x\",\"model\":\"minimax/"
        "speech-02-turbo\",\"status\":\"processing\",\"created_at\":"
        "\"2026-11-21T10:00:04.000001Z\",\"input\":{\"text\":\"hi!\",\"voice_id\":\"Wise_Woman\","
        "\"speed\":1,\"channel\":\"mono\"}},"
        "{\"id\":\"y\",\"model\":\"minimax/"
        "speech-02-turbo\",\"status\":\"processing\",\"created_at\":"
        "\"2026-11-21T10:00:03.5Z\",\"input\":{\"text\":\"hi\",\"voice_id\":\"Wise_Woman\","
        "\"speed\":1,\"channel\":\"mono\"}},"
        "{\"id\":\"z\",\"status\":\"succeeded\",\"output\":\"http://o/z.wav\",\"created_at\":"
        "\"2026-11-21T10:00:02Z\",\"webhook\":\"http://r/webhooks/replicate?job="
        "22222222-2222-4222-8222-222222222222&token=t\",\"input\":{}},"
        "{\"id\":\"old\",\"model\":\"minimax/speech-02-turbo\",\"status\":\"processing\","
        "\"created_at\":\"2026-01-01T00:00:00Z\",\"input\":{\"text\":\"hi\",\"voice_id\":"
        "\"Wise_Woman\",\"speed\":1,\"channel\":\"mono\"}}]}";
    http_call c = {.status = 200, .resp = (char *)page, .resp_len = sizeof page - 1};
    prov_status sts[2];
    bool found[2] = {false, false};
    const char *next = "unset";
    /* 2026-11-21T10:00:00Z = 1795255200: the listing reaches back past it. */
    jobs[0].created_s = jobs[1].created_s = 1795255200;
    assert_true(page_of(rep, a, &c, jobs, 2, sts, found, 1795255200 - 30, NULL, &next));
    assert_true(found[0] && found[1]);
    assert_string_equal(sts[0].provider_job_id, "y");
    assert_int_equal(sts[0].state, PROV_RUNNING);
    assert_string_equal(sts[1].provider_job_id, "z");
    assert_string_equal(sts[1].output_url, "http://o/z.wav");
    assert_null(next); /* the page holds work older than not_before */

    /* Work another job holds is passed over: the next match is "old"... which is
     * older than the job (less the slack), so job 1 is not on this page. */
    found[0] = found[1] = false;
    assert_true(page_of(rep, a, &c, jobs, 2, sts, found, 1795255200 - 30, "y", &next));
    assert_false(found[0]);
    assert_true(found[1]);

    /* Work not on the page, which is all newer than not_before: read the next page... */
    static const char nope[] = "{\"text\":\"nowhere\"}";
    prov_job other = {"33333333-3333-4333-8333-333333333333", "tts",     NULL, NULL, "t", "u",
                      unit_json(a, nope, sizeof nope - 1),    1795255200};
    found[0] = false;
    assert_true(page_of(rep, a, &c, &other, 1, sts, found, 1700000000, NULL, &next));
    assert_false(found[0]);
    assert_non_null(next);
    assert_string_equal(next, "http://prov.test/v1/predictions?cursor=abc");
    /* ...unless the page already reaches back before not_before: it is nowhere. */
    assert_true(page_of(rep, a, &c, &other, 1, sts, found, 1795255200 - 30, NULL, &next));
    assert_false(found[0]);
    assert_null(next);
    http_call f = {0};
    rep->build_find(a, "http://prov.test/v1/predictions?cursor=abc", &f);
    assert_string_equal(f.url, "http://prov.test/v1/predictions?cursor=abc");
    rep->build_find(a, NULL, &f);
    assert_string_equal(f.url, "http://prov.test/v1/predictions");

    /* ...but never one on another host (our token goes with it): cannot tell. */
    static const char foreign[] =
        "{\"next\":\"http://evil.test/v1/predictions?cursor=abc\",\"results\":[{\"id\":\"q\","
        "\"status\":\"starting\",\"created_at\":\"2026-11-21T10:00:09Z\",\"input\":{}}]}";
    http_call c2 = {.status = 200, .resp = (char *)foreign, .resp_len = sizeof foreign - 1};
    found[0] = found[1] = false;
    assert_false(page_of(rep, a, &c2, jobs, 2, sts, found, 1700000000, NULL, &next));
    /* The last page, an empty one, an error, garbage. */
    static const char last[] = "{\"next\":null,\"results\":[]}";
    http_call c3 = {.status = 200, .resp = (char *)last, .resp_len = sizeof last - 1};
    assert_true(page_of(rep, a, &c3, jobs, 2, sts, found, 1700000000, NULL, &next));
    assert_null(next);
    c3.status = 500;
    assert_false(page_of(rep, a, &c3, jobs, 2, sts, found, 1700000000, NULL, &next));
    http_call c4 = {.status = 200, .resp = "{\"results\":5}", .resp_len = 13};
    assert_false(page_of(rep, a, &c4, jobs, 2, sts, found, 1700000000, NULL, &next));
    unsetenv("RV_REPLICATE_URL");
}

/* A conversion's model input: a signed link to the source (the same every time the
 * input is built for one job, so a rescue still matches it) and the voice's id. */
static void test_conversion_input(void **state)
{
    arena *a = *state;
    static const unsigned char secret[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
    char why[128];
    setenv("RV_PUBLIC_URL", "http://pub.test", 1);
    setenv("RV_REPLICATE_URL", "http://prov.test", 1);
    assert_true(config_load(false, why, sizeof why));
    assert_true(
        store_init(secret, sizeof secret - 1, "/tmp/rv-unit", "http://pub.test", why, sizeof why));
    const prov_adapter *rep = prov_find("replicate");
    assert_true(rep->serves("voice_conversion"));
    static const char in[] =
        "{\"sourceAudioId\":\"44444444-4444-4444-8444-444444444444\",\"voiceId\":"
        "\"00000000-0000-4000-8000-000000000001\",\"durationSeconds\":3.2,\"voice\":"
        "{\"presetKey\":\"p\",\"providerVoiceIds\":{\"replicate\":\"Wise_Woman\"}},"
        "\"source\":{\"storageKey\":\"audios/u/20261122T000000-take-0a1b2c3d4e5f.wav\","
        "\"contentType\":\"audio/wav\"}}";
    prov_job job = {"55555555-5555-4555-8555-555555555555",
                    "voice_conversion",
                    "minimax/voice-conversion",
                    NULL,
                    "tok",
                    "u",
                    unit_json(a, in, sizeof in - 1),
                    1795255200};
    http_call c1 = {0}, c2 = {0};
    rep->build_submit(a, &job, &c1);
    rep->build_submit(a, &job, &c2);
    assert_string_equal(c1.url, "http://prov.test/v1/models/minimax/voice-conversion/predictions");
    assert_string_equal(c1.body, c2.body);
    json_object *body = unit_json(a, c1.body, strlen(c1.body)), *input, *v;
    assert_true(json_object_object_get_ex(body, "input", &input));
    assert_int_equal(json_object_object_length(input), 2);
    assert_true(json_object_object_get_ex(input, "voice_id", &v));
    assert_string_equal(json_object_get_string(v), "Wise_Woman");
    assert_true(json_object_object_get_ex(input, "source_audio", &v));
    const char *url = json_object_get_string(v);
    static const char prefix[] =
        "http://pub.test/media/audios/u/20261122T000000-take-0a1b2c3d4e5f.wav?exp=";
    assert_int_equal(strncmp(url, prefix, sizeof prefix - 1), 0);
    /* Valid from the job's creation for hours, then not. */
    const char *exp = url + sizeof prefix - 1, *sig = strstr(url, "&sig=");
    assert_non_null(sig);
    char *exps = arena_strndup(a, exp, (size_t)(sig - exp));
    const char *key = "audios/u/20261122T000000-take-0a1b2c3d4e5f.wav";
    assert_true(store_check_link(key, exps, sig + 5, 1795255200 + 5 * 3600));
    assert_false(store_check_link(key, exps, sig + 5, 1795255200 + 7 * 3600));

    /* A rescue finds the work by that very input. */
    const char *page = arena_printf(
        a,
        "{\"next\":null,\"results\":[{\"id\":\"vc\",\"model\":\"minimax/voice-conversion\","
        "\"status\":\"processing\",\"created_at\":\"2026-11-21T10:00:05Z\",\"input\":%s}]}",
        json_object_to_json_string_ext(input, JSON_C_TO_STRING_PLAIN));
    http_call c = {.status = 200, .resp = (char *)page, .resp_len = strlen(page)};
    prov_status st;
    bool found = false;
    const char *next;
    assert_true(page_of(rep, a, &c, &job, 1, &st, &found, 1795255200 - 30, NULL, &next));
    assert_true(found);
    assert_string_equal(st.provider_job_id, "vc");
    unsetenv("RV_REPLICATE_URL");
    unsetenv("RV_PUBLIC_URL");
}

/* A clone's submit carries our normalised sample's link, no other input of ours;
 * the rescue finds the prediction by exactly that input. */
static void test_clone_submit(void **state)
{
    arena *a = *state;
    char why[128];
    setenv("RV_REPLICATE_URL", "http://prov.test", 1);
    setenv("RV_REPLICATE_API_TOKEN", "t", 1);
    setenv("RV_PUBLIC_URL", "http://rv.test", 1);
    setenv("RV_DATABASE_URL", "dbname=none", 1);
    assert_true(config_load(false, why, sizeof why));
    const prov_adapter *rep = prov_find("replicate");
    static const char in[] =
        "{\"name\":\"Me\",\"sampleAudioId\":\"a\",\"voiceId\":\"v\",\"language\":\"en\","
        "\"voice\":{\"sampleKey\":\"audios/u/s.wav\",\"sampleRate\":32000,"
        "\"fileKey\":\"voices/u/c.wav\",\"fileUrl\":\"http://rv.test/media/voices/u/"
        "c.wav?exp=1&sig=s\"}}";
    prov_job job = {"44444444-4444-4444-8444-444444444444",
                    "voice_clone",
                    "minimax/voice-cloning",
                    NULL,
                    "tok",
                    "u",
                    unit_json(a, in, sizeof in - 1),
                    1795255200};
    http_call c = {0};
    rep->build_submit(a, &job, &c);
    assert_string_equal(c.url, "http://prov.test/v1/models/minimax/voice-cloning/predictions");
    json_object *body = unit_json(a, c.body, strlen(c.body)), *input, *v;
    assert_true(json_object_object_get_ex(body, "input", &input));
    assert_int_equal(json_object_object_length(input), 3);
    assert_true(json_object_object_get_ex(input, "voice_file", &v));
    assert_string_equal(json_object_get_string(v),
                        "http://rv.test/media/voices/u/c.wav?exp=1&sig=s");
    assert_true(json_object_object_get_ex(input, "need_volume_normalization", &v));
    assert_false(json_object_get_boolean(v));

    static const char page[] =
        "{\"next\":null,\"results\":[{\"id\":\"c\",\"model\":\"minimax/voice-cloning\","
        "\"status\":\"succeeded\",\"created_at\":\"2026-11-21T10:00:05Z\",\"output\":{"
        "\"voice_id\":\"sim-voice-c\",\"preview\":\"http://o/c.wav\"},\"input\":{"
        "\"need_noise_reduction\":false,\"voice_file\":"
        "\"http://rv.test/media/voices/u/"
        "c.wav?exp=1&sig=s\",\"need_volume_normalization\":false}}]}";
    http_call p = {.status = 200, .resp = (char *)page, .resp_len = sizeof page - 1};
    prov_status st;
    bool found = false;
    const char *next;
    assert_true(page_of(rep, a, &p, &job, 1, &st, &found, 1795255200 - 30, NULL, &next));
    assert_true(found);
    assert_string_equal(st.voice_id, "sim-voice-c");
    assert_string_equal(st.output_url, "http://o/c.wav");
    unsetenv("RV_REPLICATE_URL");
    unsetenv("RV_REPLICATE_API_TOKEN");
}

static void test_backoff(void **state)
{
    (void)state;
    /* grows, capped at 300 s, jitter between half and all of it, Retry-After wins */
    assert_true(work_backoff(1, 0, 0) >= 0.5 && work_backoff(1, 0, 1) <= 1);
    assert_true(work_backoff(3, 0, 1) == 4);
    assert_true(work_backoff(3, 0, 0) == 2);
    assert_true(work_backoff(30, 0, 1) == 300);
    assert_true(work_backoff(30, 0, 0) == 150);
    assert_true(work_backoff(1, 17, 0.5) == 17);
    assert_true(work_backoff(0, 0, 1) == 1);
}

/* A provider's ids go into URL paths and array literals: only [A-Za-z0-9_-]{1,64}
 * is taken; a voice id that is not one is no voice id; its error text is made valid
 * UTF-8 and cut before it reaches the job's error (jsonb). */
static void test_untrusted_answers(void **state)
{
    arena *a = *state;
    static const char *const bad_ids[] = {
        "\"p/../../v1/account\"",
        "\"p\\\",\\\"q\"",
        "\"p q\"",
        "\"\"",
        "7",
        "null",
        "\"p%2f\"",
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
        "\"p\\u0000q\""};
    for (size_t i = 0; i < N_ELEMS(bad_ids); i++) {
        bool ok;
        char *json = arena_printf(a, "{\"id\":%s,\"status\":\"processing\"}", bad_ids[i]);
        (void)status_of(a, json, &ok);
        if (ok)
            fail_msg("id %s was taken", bad_ids[i]);
    }
    assert_true(prov_id_valid("abc_DEF-123"));
    assert_true(prov_id_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    assert_false(prov_id_valid(NULL));
    bool ok;
    prov_status st = status_of(a,
                               "{\"id\":\"p\",\"status\":\"succeeded\",\"output\":"
                               "{\"voice_id\":\"v\\\"1\",\"preview\":\"https://x/p.wav\"}}",
                               &ok);
    assert_true(ok);
    assert_null(st.voice_id);
    char *err =
        arena_printf(a, "{\"id\":\"p\",\"status\":\"failed\",\"error\":\"%s\"}", "bad \xff byte");
    json_object *p = json_tokener_parse(err); /* as the poller reads answers: lenient */
    assert_non_null(p);
    assert_true(prov_replicate_status(a, p, &st));
    assert_string_equal(st.message, "bad \xEF\xBF\xBD byte");
    json_object_put(p);
    char *long_err = arena_alloc(a, 5001);
    memset(long_err, 'e', 5000);
    p = json_object_new_object();
    json_object_object_add(p, "id", json_object_new_string("p"));
    json_object_object_add(p, "status", json_object_new_string("failed"));
    json_object_object_add(p, "error", json_object_new_string(long_err));
    assert_true(prov_replicate_status(a, p, &st));
    assert_int_equal(strlen(st.message), 1000);
    json_object_put(p);
}

/* Output downloads: https and public addresses only, except from the provider's own
 * configured origin; capped far below 512 MiB. */
static void test_download_setup(void **state)
{
    (void)state;
    setenv("RV_REPLICATE_URL", "http://127.0.0.1:18220", 1);
    unsetenv("RV_ALLOW_HTTP_DOWNLOADS");
    unsetenv("RV_ALLOW_PRIVATE_DOWNLOADS");
    reload();
    http_call c = {0};
    prov_download_setup(prov_find("replicate"), "tts", &c);
    assert_true(c.untrusted);
    assert_false(c.allow_http);
    assert_false(c.allow_private);
    assert_string_equal(c.trusted_origin, "http://127.0.0.1:18220");
    assert_int_equal(c.max_bytes, 50u << 20);
    setenv("RV_ALLOW_HTTP_DOWNLOADS", "1", 1);
    setenv("RV_ALLOW_PRIVATE_DOWNLOADS", "1", 1);
    reload();
    http_call d = {0};
    prov_download_setup(prov_find("local"), "voice_clone", &d);
    assert_true(d.untrusted && d.allow_http && d.allow_private);
    assert_null(d.trusted_origin);
    unsetenv("RV_ALLOW_HTTP_DOWNLOADS");
    unsetenv("RV_ALLOW_PRIVATE_DOWNLOADS");
    assert_true(prov_output_cap("sfx") <= 50u << 20);
    assert_true(prov_output_cap("anything") <= 50u << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replicate_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_available, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversion_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clone_submit, setup, teardown),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test_setup_teardown(test_untrusted_answers, setup, teardown),
        cmocka_unit_test(test_download_setup),
    };
    return cmocka_run_group_tests_name("provider", tests, NULL, NULL);
}

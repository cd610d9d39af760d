#include "video_work.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "providers/openai.h"
#include "videos.h"
#include "work.h"

static const db_stmt started = {"SELECT rv_job_started_local($1, $2)", 2};
static const db_stmt fail = {"SELECT rv_job_fail($1, $2::jsonb)", 2};
static const db_stmt retry = {"SELECT rv_job_retry($1, $2, $3, $4::jsonb)", 4};
static const db_stmt succeed = {"SELECT rv_video_job_succeed($1, $2::jsonb, $3::jsonb)", 3};
static const db_stmt for_job = {
    "SELECT video_json, narration_key, image_keys FROM rv_video_for_job($1)", 1};

/* How long a step waits out a language model's rate limit before it gives the
 * job back to the queue (the poller's backoff then honours Retry-After). */
enum { LLM_MAX_WAIT_S = 20 };

const char video_work_script_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"sections\"],"
    "\"properties\":{\"sections\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    "\"additionalProperties\":false,\"required\":[\"heading\",\"content\"],"
    "\"properties\":{\"heading\":{\"type\":\"string\",\"description\":\"a short title, at most "
    "200 characters\"},\"content\":{\"type\":\"string\",\"description\":\"the narration of the "
    "section, 1 to 2000 characters\"}}}}}}";

static json_object *member(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *str(json_object *o, const char *k, const char *dflt)
{
    json_object *v = member(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : dflt;
}

char *video_work_script_prompt(arena *a, json_object *v)
{
    json_object *t = member(v, "targetSeconds");
    long secs = t ? (long)json_object_get_int64(t) : 60;
    long words = secs * 150 / 60, sections = secs / 15;
    if (sections < 1)
        sections = 1;
    if (sections > VIDEOS_MAX_SECTIONS)
        sections = VIDEOS_MAX_SECTIONS;
    return arena_printf(a,
                        "Write the narration script of an explainer video.\n"
                        "Title: %s\nTopic: %s\nLanguage: %s\nStyle: %s\n"
                        "Length: about %ld seconds when read aloud (about %ld words), in about "
                        "%ld sections; every section at most 2000 characters.",
                        str(v, "title", ""), str(v, "topic", ""), str(v, "language", "en"),
                        str(v, "style", "clear and friendly"), secs, words, sections);
}

struct first_problem {
    const char *field, *message;
};

static void keep_first(void *user, const char *field, const char *message)
{
    struct first_problem *p = user;
    if (!p->field) {
        p->field = field;
        p->message = message;
    }
}

const char *video_work_script_check(arena *a, json_object *answer, void *user)
{
    struct first_problem p = {0};
    if (json_object_object_length(answer) != 1)
        return "it must hold sections only";
    if (videos_sections_check(a, member(answer, "sections"), "sections", keep_first, &p, user))
        return arena_printf(a, "%s %s", p.field, p.message);
    return NULL;
}

static char *error_json(arena *a, const char *code, const char *message)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_string(code));
    json_object_object_add(e, "message", json_object_new_string(message));
    char *s = arena_strdup(a, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
    json_object_put(e);
    return s;
}

/* Failed for good (refunded; a chain stops). */
static int failed(rv_req *rq, const local_job *job, const char *code, const char *message)
{
    log_msg(LOG_WARN, "video job %s (%s) failed: %s", job->id, job->kind, code);
    const char *p[] = {job->id, error_json(rq->a, code, message)};
    return db_query(rq, &fail, p, NULL) == RV_OK ? LOCAL_FAILED : LOCAL_TRANSIENT;
}

/* Back to the queue after the poller's backoff, at least retry_after seconds. */
static int again(rv_req *rq, const local_job *job, double retry_after, const char *code,
                 const char *message)
{
    double d = work_backoff(job->attempts, retry_after, randombytes_uniform(1000) / 1000.0);
    log_msg(LOG_WARN, "video job %s (%s): %s; retrying in %.1f s", job->id, job->kind, code, d);
    const char *p[] = {job->id, job->poller_id, arena_printf(rq->a, "%.3f", d),
                       error_json(rq->a, code, message)};
    return db_query(rq, &retry, p, NULL) == RV_OK ? LOCAL_FAILED : LOCAL_TRANSIENT;
}

static int succeeded(rv_req *rq, const local_job *job, json_object *output, json_object *audio)
{
    const char *p[] = {
        job->id,
        arena_strdup(rq->a, json_object_to_json_string_ext(output, JSON_C_TO_STRING_PLAIN)),
        audio ? arena_strdup(rq->a, json_object_to_json_string_ext(audio, JSON_C_TO_STRING_PLAIN))
              : NULL};
    return db_query(rq, &succeed, p, NULL) == RV_OK ? LOCAL_OK : LOCAL_TRANSIENT;
}

static void put_json(void *o)
{
    json_object_put(o);
}

static int run_script(rv_req *rq, const local_job *job, json_object *video)
{
    openai_request r = {.user_prompt = video_work_script_prompt(rq->a, video),
                        .schema_name = "video_script",
                        .schema = video_work_script_schema};
    if (openai_settings(rq, "script", &r) != RV_OK)
        return LOCAL_TRANSIENT;
    json_object *sections = NULL;
    openai_result res =
        openai_complete(rq->a, &r, video_work_script_check, &sections, LLM_MAX_WAIT_S);
    if (openai_transient(res.status))
        return again(rq, job, res.retry_after, res.code, res.message);
    if (res.status != OPENAI_OK)
        return failed(rq, job, res.code, res.message);
    json_object *out = json_object_new_object();
    json_object_object_add(out, "sections", json_object_get(sections));
    int rc = succeeded(rq, job, out, NULL);
    json_object_put(out);
    return rc;
}

int video_work_run(rv_req *rq, const local_job *job)
{
    const char *p0[] = {job->id, job->poller_id};
    if (db_query(rq, &started, p0, NULL) != RV_OK) {
        log_msg(LOG_WARN, "video job %s: could not mark it started", job->id);
        return LOCAL_TRANSIENT;
    }
    PGresult *r;
    const char *p1[] = {job->id};
    if (db_query(rq, &for_job, p1, &r) != RV_OK)
        return LOCAL_TRANSIENT;
    json_object *video = PQntuples(r) == 1 ? json_tokener_parse(db_get(r, 0, 0)) : NULL;
    if (!video)
        return failed(rq, job, "video_gone", "the video was deleted");
    arena_defer(rq->a, put_json, video);
    if (!strcmp(job->kind, "script"))
        return run_script(rq, job, video);
    return failed(rq, job, "not_implemented", "this step is not available on this server yet");
}

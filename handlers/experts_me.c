/* PUT /api/experts/me — authenticated, role expert (the token's; else 403).
 *
 * Body: {name (1..100), bio? (≤5000), hourlyRateCents (0..10^8), specialties (0..20,
 * each from admin_config.expert_specialties), languages (0..20 BCP 47 tags),
 * availability (available|busy|offline)} → 200 expert (experts.c has its shape):
 * the caller's profile, made or replaced. 400, 401, 403, 405, 413, 415, 503. */
#include <stddef.h>
#include <string.h>

#include "bind.h"
#include "projects.h"
#include "serve.h"

static const db_stmt put = {
    "SELECT outcome, expert_json FROM rv_expert_put($1, $2, $3, $4::jsonb, $5::jsonb, $6)", 6};

typedef struct {
    const char *name, *bio, *availability;
    long rate;
    bind_strings specialties, languages;
} profile_input;

static const char *const availabilities[] = {"available", "busy", "offline", NULL};

static const bind_field fields[] = {
    {.name = "name",
     .type = BIND_STRING,
     .offset = offsetof(profile_input, name),
     .required = true,
     .min = 1,
     .max = 100,
     .message = "must be 1 to 100 characters"},
    {.name = "bio",
     .type = BIND_STRING,
     .offset = offsetof(profile_input, bio),
     .max = 5000,
     .message = "must be at most 5000 characters"},
    {.name = "hourlyRateCents",
     .type = BIND_INT,
     .offset = offsetof(profile_input, rate),
     .required = true,
     .min = 0,
     .max = 100000000,
     .message = "must be an integer from 0 to 100000000"},
    {.name = "specialties",
     .type = BIND_STRINGS,
     .offset = offsetof(profile_input, specialties),
     .required = true,
     .min = 0,
     .max = 20,
     .message = "must hold at most 20 specialties"},
    {.name = "languages",
     .type = BIND_STRINGS,
     .offset = offsetof(profile_input, languages),
     .required = true,
     .min = 0,
     .max = 20,
     .check = bind_check_language,
     .message = "must hold at most 20 languages"},
    {.name = "availability",
     .type = BIND_STRING,
     .offset = offsetof(profile_input, availability),
     .required = true,
     .one_of = availabilities},
};

static const char *json_list(rv_req *rq, const bind_strings *s)
{
    json_object *arr = req_keep(rq, json_object_new_array());
    for (size_t i = 0; i < s->n; i++)
        json_object_array_add(arr, json_object_new_string(s->items[i]));
    return json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
}

static rv_err experts_me(rv_req *rq)
{
    if (!rq->role || strcmp(rq->role, "expert"))
        return projects_refuse(rq, PROJ_NOT_EXPERT);
    profile_input in = {0};
    rv_err er = bind_json(rq, fields, BIND_COUNT(fields), &in);
    if (er != RV_OK)
        return er;
    const char *p[] = {in.name,
                       in.bio,
                       arena_printf(rq->a, "%ld", in.rate),
                       json_list(rq, &in.specialties),
                       json_list(rq, &in.languages),
                       in.availability};
    return projects_call(rq, &put, p, 200);
}

static const rv_endpoint endpoint = {
    .name = "experts_me",
    .route = "/api/experts/me",
    .methods = RV_PUT,
    .flags = RV_AUTH,
    .body_limit = 32 * 1024,
    .handle = experts_me,
};

int main(int argc, char **argv)
{
    return serve_main(&endpoint, argc, argv);
}

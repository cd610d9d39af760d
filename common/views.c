#include "views.h"

#include <time.h>

#include "storage.h"

static json_object *with_link(rv_req *rq, const char *json, const char *storage_key,
                              const char *holder, const char *field)
{
    json_object *obj = json ? json_tokener_parse(json) : NULL;
    if (!obj)
        return NULL;
    req_keep(rq, obj);
    json_object *target = obj;
    if (holder && (!json_object_object_get_ex(obj, holder, &target) || !target))
        return obj;
    if (storage_key)
        json_object_object_add(target, field,
                               json_object_new_string(store_signed_url(
                                   rq->a, storage_key, STORE_URL_TTL, time(NULL))));
    return obj;
}

json_object *views_job(rv_req *rq, const char *json, const char *storage_key)
{
    return with_link(rq, json, storage_key, "result", "url");
}

json_object *views_audio(rv_req *rq, const char *json, const char *storage_key)
{
    return with_link(rq, json, storage_key, NULL, "url");
}

json_object *views_voice(rv_req *rq, const char *json, const char *storage_key)
{
    return with_link(rq, json, storage_key, NULL, "previewUrl");
}

#include "jobj.h"

json_object *jobj_member(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v)
               ? v
               : NULL;
}

const char *jobj_str(json_object *o, const char *k, const char *dflt)
{
    json_object *v = jobj_member(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : dflt;
}

double jobj_num(json_object *o, const char *k, double dflt)
{
    json_object *v = jobj_member(o, k);
    return v && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
               ? json_object_get_double(v)
               : dflt;
}

/* jobj.h — reading members of a parsed JSON object (json-c) whatever its shape: a
 * missing member, a member of another type, or an `o` that is not an object (or
 * NULL) all give the default. For JSON the service wrote itself or already checked
 * (a job's input, a video's row); untrusted bodies go through bind.h. */
#ifndef RV_JOBJ_H
#define RV_JOBJ_H

#include <json-c/json.h>

/* The member k of o, or NULL. */
json_object *jobj_member(json_object *o, const char *k);

/* The string member k of o, or dflt. */
const char *jobj_str(json_object *o, const char *k, const char *dflt);

/* The number member k of o (integer or not), or dflt. */
double jobj_num(json_object *o, const char *k, double dflt);

#endif

/* llmtool — one structured completion through providers/openai.h from the command
 * line, for tests against the simulator (tests/integration/test_openai_adapter.py)
 * and for trying a prompt by hand. Settings from the environment (RV_OPENAI_URL,
 * RV_OPENAI_API_KEY).
 *
 *   llmtool SCHEMA_NAME SCHEMA_JSON PROMPT [SYSTEM [MAX_WAIT_S]]
 *
 * Prints {"status": N, "code": …, "message": …, "retryAfter": …, "output": …} on one
 * line. Exit status: 0 ok, 1 any other outcome, 64 usage, 78 settings refused. */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "providers/openai.h"

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: llmtool SCHEMA_NAME SCHEMA_JSON PROMPT [SYSTEM [MAX_WAIT_S]]\n");
        return 64;
    }
    char why[256];
    if (!config_load(false, why, sizeof why)) {
        fprintf(stderr, "llmtool: %s\n", why);
        return 78;
    }
    arena *a = arena_new();
    openai_request r = {.schema_name = argv[1],
                        .schema = argv[2],
                        .user_prompt = argv[3],
                        .system_prompt = argc > 4 ? argv[4] : NULL,
                        .timeout_ms = 10000};
    openai_result res = openai_complete(a, &r, NULL, NULL, argc > 5 ? strtod(argv[5], NULL) : 0);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_int(res.status));
    if (res.code)
        json_object_object_add(o, "code", json_object_new_string(res.code));
    if (res.message)
        json_object_object_add(o, "message", json_object_new_string(res.message));
    json_object_object_add(o, "retryAfter", json_object_new_double(res.retry_after));
    if (res.output)
        json_object_object_add(o, "output", json_object_get(res.output));
    puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    arena_free(a);
    return res.status == OPENAI_OK ? 0 : 1;
}

#include "provider.h"

#include <string.h>

static bool always(void)
{
    return true;
}
static bool local_serves(const char *kind)
{
    return !strcmp(kind, "tts");
}

extern const prov_adapter prov_replicate;
static const prov_adapter prov_local = {"local", always, local_serves, false};
static const prov_adapter *const adapters[] = {&prov_local, &prov_replicate};
enum { N_ADAPTERS = sizeof adapters / sizeof adapters[0] };

const prov_adapter *prov_find(const char *name)
{
    for (size_t i = 0; i < N_ADAPTERS; i++)
        if (name && !strcmp(adapters[i]->name, name))
            return adapters[i];
    return NULL;
}

char *prov_available_for(arena *a, const char *kind)
{
    char *list = arena_strdup(a, "{");
    for (size_t i = 0; i < N_ADAPTERS; i++)
        if (adapters[i]->available() && adapters[i]->serves(kind))
            list = arena_printf(a, "%s%s%s", list, list[1] ? "," : "", adapters[i]->name);
    return arena_printf(a, "%s}", list);
}

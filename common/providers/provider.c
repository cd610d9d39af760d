#include "provider.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "openai.h"

static bool always(void)
{
    return true;
}

/* The video steps that run on this machine (narration, images, render); a script
 * needs a language model (OpenAI). */
static bool local_serves(const char *kind)
{
    return !strcmp(kind, "tts") || !strcmp(kind, "narration") || !strcmp(kind, "images") ||
           !strcmp(kind, "video_clip") || !strcmp(kind, "video_compile") ||
           !strcmp(kind, "video_render");
}
static bool openai_serves(const char *kind)
{
    return !strcmp(kind, "script") || !strcmp(kind, "estimate");
}

extern const prov_adapter prov_replicate, prov_runway;
static const prov_adapter prov_local = {"local", always, local_serves, false};
/* Run like a local job: one blocking call in a child process (providers/openai.h). */
static const prov_adapter prov_openai = {"openai", openai_available, openai_serves, false};
static const prov_adapter *const adapters[] = {&prov_local, &prov_replicate, &prov_openai,
                                               &prov_runway};
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

bool prov_id_valid(const char *s)
{
    size_t n =
        s ? strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") : 0;
    return n >= 1 && n <= 64 && s[n] == '\0';
}

/* Far below what a file may be in storage: a provider's output is one clip. */
static const struct {
    const char *kind;
    size_t cap;
} caps[] = {
    {"tts", 50u << 20},         {"sfx", 50u << 20},
    {"voice_clone", 50u << 20}, {"voice_conversion", 50u << 20},
    {"video_clip", 200u << 20}, /* a 10 s 720p clip is a few MB */
};
enum { DEFAULT_OUTPUT_CAP = 50u << 20 };

size_t prov_output_cap(const char *kind)
{
    for (size_t i = 0; kind && i < sizeof caps / sizeof caps[0]; i++)
        if (!strcmp(caps[i].kind, kind))
            return caps[i].cap;
    return DEFAULT_OUTPUT_CAP;
}

void prov_download_setup(const prov_adapter *ad, const char *kind, http_call *c)
{
    c->untrusted = true;
    c->allow_http = config->allow_http_downloads;
    c->allow_private = config->allow_private_downloads;
    c->trusted_origin = ad && ad->origin ? ad->origin() : NULL;
    c->max_bytes = prov_output_cap(kind);
}

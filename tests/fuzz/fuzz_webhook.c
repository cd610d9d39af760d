/* fuzz_webhook.c — Standard Webhooks verification (common/webhook.c): the secret's
 * decoding, the timestamp, the space-separated "v1,<base64>" signature list.
 *
 * The input is "secret\nid\ntimestamp\nsignatures\nbody". The first byte of the
 * body picks a second round: when odd, the real signature of the same message is
 * added to the fuzzed list, so the fuzzer also reaches what only a correctly signed
 * message gets to. Time is fixed. */
#include <errno.h>
#include <stdlib.h>

#include "fuzz.h"
#include "webhook.h"

#define FUZZ_NOW 1800000000L

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena *a = fuzz_arena();
    char *secret, *id, *ts, *sigs;
    size_t rest;
    const uint8_t *p = fuzz_split(a, data, size, '\n', &secret, &rest);
    p = fuzz_split(a, p, rest, '\n', &id, &rest);
    p = fuzz_split(a, p, rest, '\n', &ts, &rest);
    p = fuzz_split(a, p, rest, '\n', &sigs, &rest);
    const char *body = (const char *)p; /* bytes: NULs and all */

    (void)webhook_verify_standard(secret, id, ts, sigs, body, rest, FUZZ_NOW, WEBHOOK_TOLERANCE);

    char good[128];
    if (rest && (p[0] & 1) &&
        webhook_sign_standard(secret, id, ts, body, rest, good, sizeof good)) {
        const char *parts[3] = {sigs, " ", good};
        const char *list = arena_join(a, parts, 3);
        bool ok =
            webhook_verify_standard(secret, id, ts, list, body, rest, FUZZ_NOW, WEBHOOK_TOLERANCE);
        /* Even a good signature is refused for a bad id or a stale timestamp. */
        char *end;
        errno = 0;
        long t = strtol(ts, &end, 10);
        bool ts_ok = !errno && end != ts && !*end && t >= FUZZ_NOW - WEBHOOK_TOLERANCE &&
                     t <= FUZZ_NOW + WEBHOOK_TOLERANCE;
        if (ok && !(*id && strlen(id) <= 256 && ts_ok))
            abort();
    }
    return 0;
}

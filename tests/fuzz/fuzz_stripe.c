/* fuzz_stripe.c — Stripe-Signature verification (common/stripe.c): the header's
 * t= and v1= entries, the timestamp, and the form encoding of what goes to Stripe.
 *
 * The input is "secret\nheader\nbody". The first byte of the body picks a second
 * round: when odd, the real signature of the body at the fuzzed header's first t=
 * (or now) is added, so the fuzzer also reaches what a correctly signed event gets
 * to; a good signature must then pass exactly when its timestamp is in tolerance.
 * Time is fixed. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "stripe.h"

#define FUZZ_NOW 1800000000L

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena *a = fuzz_arena();
    char *secret, *header;
    size_t rest;
    const uint8_t *p = fuzz_split(a, data, size, '\n', &secret, &rest);
    p = fuzz_split(a, p, rest, '\n', &header, &rest);
    const char *body = (const char *)p;

    (void)stripe_verify_signature(secret, header, body, rest, FUZZ_NOW, STRIPE_TOLERANCE);
    (void)stripe_form_add(a, header, secret, fuzz_str(a, p, rest)); /* values are strings */

    char good[128];
    long t = FUZZ_NOW - (long)(rest ? p[0] % 700 : 0) + 350;
    if (*secret && rest && (p[0] & 1) && stripe_sign(secret, t, body, rest, good, sizeof good)) {
        bool ok = stripe_verify_signature(secret, good, body, rest, FUZZ_NOW, STRIPE_TOLERANCE);
        bool in = t >= FUZZ_NOW - STRIPE_TOLERANCE && t <= FUZZ_NOW + STRIPE_TOLERANCE;
        if (ok != in)
            abort();
        const char *parts[3] = {good, ",", header};
        if (in &&
            !stripe_verify_signature(secret, arena_join(a, parts, 3), body, rest, FUZZ_NOW,
                                     STRIPE_TOLERANCE) &&
            strlen(header) < 3000)
            abort(); /* more entries after a good one never make it bad */
    }
    return 0;
}

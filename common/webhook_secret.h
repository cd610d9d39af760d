/* webhook_secret.h — the providers' webhook signing secrets, kept in the database.
 *
 * The poller fetches Replicate's secret (GET /v1/webhooks/default/secret) at the
 * start of each run and stores it (rv_webhook_secret_set); with
 * RV_REPLICATE_WEBHOOK_SECRET set, that value is stored instead and nothing is
 * fetched. The receivers only read the stored secret: a request never calls the
 * provider. A rotation at the provider is stored by the next poller run (one a
 * minute); a receiver re-reads the secret every WEBHOOK_SECRET_TTL seconds, and at
 * once (at most once a second) when a signature does not verify with the one it
 * holds. While no secret is known, receivers answer 503 and the provider retries. */
#ifndef RV_WEBHOOK_SECRET_H
#define RV_WEBHOOK_SECRET_H

#include <stdbool.h>

#include "req.h"

enum { WEBHOOK_SECRET_TTL = 30 };

/* Poller: fetches and stores the secret of every provider that signs webhooks and
 * is configured here. A failed fetch keeps what is stored; it is logged, never
 * fatal. */
void webhook_secret_refresh(rv_req *rq);

/* Receiver: the stored secret of provider into *out (process memory, valid until the
 * next call; NULL when none is known). reread: the caller's copy failed to verify a
 * signature, read the database again now. Errors: RV_E_UNAVAILABLE when the
 * database cannot be reached and nothing is cached. */
rv_err webhook_secret_get(rv_req *rq, const char *provider, bool reread, const char **out);

#endif

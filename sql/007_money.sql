-- Money: credit packs bought through Stripe Checkout, and a user's own provider
-- keys. The functions are in sql/functions/payments.sql and api_keys.sql.
--
-- A payment is a row before anything is asked of Stripe (pending, with its own
-- Idempotency-Key for every create at Stripe); the Checkout Session's id and URL
-- are recorded once Stripe answers. From pending a payment becomes paid (its pack
-- credited, exactly once: credit_ledger_payment_once), expired or failed; from paid
-- refunded or disputed (the credits taken back as far as the balance allows; what
-- could not be taken is the shortfall, on the payment and on the user, who is
-- flagged). Only SECURITY DEFINER functions write payments.

INSERT INTO admin_config (key, value) VALUES
    -- What GET /api/credit-packs lists and POST /api/checkout sells. id: [a-z0-9_-],
    -- priceCents in the currency's smallest unit, currency ISO 4217 lower case.
    ('credit_packs', '[{"id": "starter", "name": "Starter", "credits": 500, "priceCents": 500, "currency": "usd"},
                       {"id": "creator", "name": "Creator", "credits": 2200, "priceCents": 2000, "currency": "usd"},
                       {"id": "studio", "name": "Studio", "credits": 6000, "priceCents": 5000, "currency": "usd"}]'),
    -- Jobs run on a user's own provider key: what they cost in credits instead of the
    -- job_costs price (0: nothing).
    ('own_key_fee', '0')
ON CONFLICT (key) DO NOTHING;

CREATE TABLE payments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pack_id         text NOT NULL CHECK (pack_id ~ '^[a-z0-9_-]{1,64}$'),
    pack_name       text NOT NULL,
    credits         bigint NOT NULL CHECK (credits > 0),
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    currency        text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'failed',
                        'expired', 'refunded', 'disputed')),
    -- Sent as Idempotency-Key with every create of this payment's session at Stripe.
    idempotency_key text NOT NULL UNIQUE,
    -- The client's Idempotency-Key of POST /api/checkout, if it sent one.
    request_key     text CHECK (length(request_key) BETWEEN 1 AND 255),
    session_id      text UNIQUE CHECK (session_id ~ '^[A-Za-z0-9_]{1,255}$'),
    checkout_url    text,
    payment_intent  text,
    taken_back      bigint NOT NULL DEFAULT 0 CHECK (taken_back >= 0),
    shortfall       bigint NOT NULL DEFAULT 0 CHECK (shortfall >= 0),
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    paid_at         timestamptz,
    closed_at       timestamptz,
    checked_at      timestamptz, -- the reconciler's last look at Stripe
    UNIQUE (user_id, request_key)
);
CREATE INDEX payments_user ON payments (user_id, created_at DESC, id DESC);
CREATE INDEX payments_pending ON payments (created_at) WHERE status = 'pending';
CREATE INDEX payments_intent ON payments (payment_intent) WHERE payment_intent IS NOT NULL;

-- A payment is credited at most once, and taken back at most once per kind,
-- whatever locks the callers hold.
CREATE UNIQUE INDEX credit_ledger_payment_once ON credit_ledger (payment_id, kind)
    WHERE payment_id IS NOT NULL;

-- What a refund or dispute could not take back (the credits were spent): recorded,
-- never silently forgiven, and the account flagged for an admin to look at.
ALTER TABLE users ADD COLUMN credit_shortfall bigint NOT NULL DEFAULT 0
    CHECK (credit_shortfall >= 0);
ALTER TABLE users ADD COLUMN payment_flagged boolean NOT NULL DEFAULT false;

-- ------------------------------------------------------------------ api_keys
-- A user's own key for a provider, encrypted with crypto_secretbox under one of the
-- keys of RV_KEY_ENCRYPTION_KEYS (key_id names which: the keys can rotate). The
-- plaintext never reaches the database; last4 is what the API shows. One active key
-- per user and service; a deleted key is gone (its row removed).
CREATE TABLE api_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    service     text NOT NULL CHECK (service IN ('replicate', 'runway', 'openai')),
    key_id      text NOT NULL CHECK (key_id ~ '^[A-Za-z0-9_-]{1,32}$'),
    nonce       bytea NOT NULL CHECK (length(nonce) = 24),
    ciphertext  bytea NOT NULL CHECK (length(ciphertext) BETWEEN 17 AND 4096),
    last4       text NOT NULL CHECK (length(last4) <= 4),
    is_active   boolean NOT NULL DEFAULT true,
    failed_at   timestamptz, -- the provider refused it while running a job
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, service)
);

-- A job that runs on its user's own key (decided at submit: rv_submit): the poller
-- calls the provider with that key, and the job costs own_key_fee instead of its
-- job_costs price.
ALTER TABLE jobs ADD COLUMN own_key boolean NOT NULL DEFAULT false;

ALTER TABLE payments ENABLE ROW LEVEL SECURITY;
CREATE POLICY payments_own ON payments USING (user_id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_keys_own ON api_keys USING (user_id = rv_uid() OR rv_role() = 'admin');

GRANT SELECT ON payments TO reelvox_app;
GRANT SELECT (id, user_id, service, last4, is_active, created_at) ON api_keys TO reelvox_app;

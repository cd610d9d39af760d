-- Payments: credit packs bought through Stripe Checkout (tables: 007_money.sql).
--
-- The checkout handler makes the payment row (rv_checkout_start), asks Stripe for
-- a Checkout Session and records it (rv_checkout_session_set) — or the refusal
-- (rv_checkout_failed). Stripe's events land in the webhook inbox
-- (rv_stripe_event_store: the receiver and the poller's listing of missed events);
-- the poller re-reads each session from Stripe and moves the payment: paid and
-- credited exactly once (rv_payment_fulfil), expired or failed (rv_payment_close),
-- refunded or disputed with the credits taken back (rv_payment_take_back).

-- The packs on sale: admin_config.credit_packs, entries of the wrong shape left out
-- (the admin config's validation refuses them; this keeps a bad row from selling).
CREATE OR REPLACE FUNCTION rv_credit_packs() RETURNS TABLE (id text, name text, credits bigint,
                                                            price_cents bigint, currency text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT p ->> 'id', p ->> 'name', (p ->> 'credits')::bigint, (p ->> 'priceCents')::bigint,
           p ->> 'currency'
      FROM admin_config c, jsonb_array_elements(CASE WHEN jsonb_typeof(c.value) = 'array'
                                                     THEN c.value ELSE '[]' END) WITH ORDINALITY e(p, n)
     WHERE c.key = 'credit_packs'
       AND jsonb_typeof(p) = 'object'
       AND p ->> 'id' ~ '^[a-z0-9_-]{1,64}$'
       AND jsonb_typeof(p -> 'name') = 'string' AND length(p ->> 'name') BETWEEN 1 AND 100
       AND jsonb_typeof(p -> 'credits') = 'number' AND (p ->> 'credits') ~ '^[1-9][0-9]{0,11}$'
       AND jsonb_typeof(p -> 'priceCents') = 'number' AND (p ->> 'priceCents') ~ '^[1-9][0-9]{0,9}$'
       AND p ->> 'currency' ~ '^[a-z]{3}$'
     ORDER BY e.n
$$;
REVOKE ALL ON FUNCTION rv_credit_packs FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_credit_packs TO reelvox_app, reelvox_poller;

CREATE OR REPLACE FUNCTION rv_payment_json(p payments) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', p.id, 'packId', p.pack_id, 'credits', p.credits, 'amountCents', p.amount_cents,
        'currency', p.currency, 'status', p.status, 'createdAt', rv_ts(p.created_at),
        'paidAt', rv_ts(p.paid_at)))
$$;

-- A new pending payment of the request's user for pack p_pack, with its own
-- Idempotency-Key for Stripe. p_request_key: the client's Idempotency-Key (NULL:
-- none); used before with the same pack it answers that payment (`repeat`), with
-- another pack `conflict`. status: created | repeat | no_pack | conflict.
CREATE OR REPLACE FUNCTION rv_checkout_start(p_pack text, p_request_key text)
RETURNS TABLE (status text, payment_id uuid, idempotency_key text, pack_name text,
               credits bigint, amount_cents bigint, currency text, session_id text,
               checkout_url text, payment_status text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_uid();
    pk record;
    p payments;
BEGIN
    IF uid IS NULL THEN
        RAISE EXCEPTION 'no user in the request context' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_request_key IS NOT NULL THEN
        PERFORM 1 FROM users WHERE id = uid FOR UPDATE; -- one checkout per key at a time
        SELECT * INTO p FROM payments x WHERE x.user_id = uid AND x.request_key = p_request_key;
        IF FOUND THEN
            RETURN QUERY SELECT CASE WHEN p.pack_id = p_pack THEN 'repeat' ELSE 'conflict' END,
                                p.id, p.idempotency_key, p.pack_name, p.credits, p.amount_cents,
                                p.currency, p.session_id, p.checkout_url, p.status;
            RETURN;
        END IF;
    END IF;
    SELECT * INTO pk FROM rv_credit_packs() c WHERE c.id = p_pack;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_pack', NULL::uuid, NULL::text, NULL::text, NULL::bigint,
                            NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    IF NOT rv_verified_ok(uid) THEN -- admin_config.require_verified, off by default
        RETURN QUERY SELECT 'unverified', NULL::uuid, NULL::text, NULL::text, NULL::bigint,
                            NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    p.id := gen_random_uuid();
    INSERT INTO payments (id, user_id, pack_id, pack_name, credits, amount_cents, currency,
                          idempotency_key, request_key)
    VALUES (p.id, uid, pk.id, pk.name, pk.credits, pk.price_cents, pk.currency,
            'rv-checkout-' || p.id, p_request_key)
    RETURNING * INTO p;
    RETURN QUERY SELECT 'created', p.id, p.idempotency_key, p.pack_name, p.credits,
                        p.amount_cents, p.currency, NULL::text, NULL::text, p.status;
END $$;
REVOKE ALL ON FUNCTION rv_checkout_start FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_checkout_start TO reelvox_app;

-- The Checkout Session Stripe made for the request's user's payment. A payment
-- keeps its first session (a repeated create with the same Idempotency-Key answers
-- the same one). status: ok | not_found | other_session.
CREATE OR REPLACE FUNCTION rv_checkout_session_set(p_payment uuid, p_session text, p_url text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    p payments;
BEGIN
    SELECT * INTO p FROM payments WHERE id = p_payment AND user_id = rv_uid() FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF p.session_id IS NOT NULL THEN
        RETURN CASE WHEN p.session_id = p_session THEN 'ok' ELSE 'other_session' END;
    END IF;
    UPDATE payments SET session_id = p_session, checkout_url = p_url, updated_at = now()
     WHERE id = p_payment;
    RETURN 'ok';
END $$;
REVOKE ALL ON FUNCTION rv_checkout_session_set FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_checkout_session_set TO reelvox_app;

-- Stripe refused to make a session (a 4xx: nothing was made there): the request's
-- user's pending payment without a session fails. Returns whether it moved.
CREATE OR REPLACE FUNCTION rv_checkout_failed(p_payment uuid, p_error text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE payments SET status = 'failed', error = left(p_error, 500), closed_at = now(),
                        updated_at = now()
     WHERE id = p_payment AND user_id = rv_uid() AND status = 'pending' AND session_id IS NULL;
    RETURN FOUND;
END $$;
REVOKE ALL ON FUNCTION rv_checkout_failed FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_checkout_failed TO reelvox_app;

-- ------------------------------------------------------------------ the inbox
-- A verified Stripe event (the receiver) or one listed by the poller: stored once
-- per event id, the poller woken. status: stored | duplicate.
CREATE OR REPLACE FUNCTION rv_stripe_event_store(p_event text, p_payload jsonb)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO webhook_events (provider, event_id, payload) VALUES ('stripe', p_event, p_payload)
    ON CONFLICT (provider, event_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate';
    END IF;
    PERFORM pg_notify('reelvox_webhooks', 'stripe');
    RETURN 'stored';
END $$;
REVOKE ALL ON FUNCTION rv_stripe_event_store FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_stripe_event_store TO reelvox_app, reelvox_poller;

-- Unprocessed Stripe events, oldest first, with their age in seconds. Taken with
-- SKIP LOCKED for the length of the caller's statement only: processing is
-- idempotent (the moves below guard themselves), this only spreads the work.
CREATE OR REPLACE FUNCTION rv_stripe_events_pending(p_limit integer)
RETURNS TABLE (id bigint, event_id text, payload jsonb, age_s bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e.id, e.event_id, e.payload, extract(epoch FROM now() - e.received_at)::bigint
      FROM webhook_events e
     WHERE e.processed_at IS NULL AND e.provider = 'stripe'
     ORDER BY e.id LIMIT p_limit
       FOR UPDATE SKIP LOCKED
$$;
REVOKE ALL ON FUNCTION rv_stripe_events_pending FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_stripe_events_pending TO reelvox_poller;

-- ------------------------------------------------------------------ the moves
-- Which payment a Checkout Session is: by its id, else by the payment id it names
-- (metadata.payment_id / client_reference_id) while that payment has no session
-- yet (its create's answer was lost). No row: not a session Reelvox made.
CREATE OR REPLACE FUNCTION rv_payment_of_session(p_session text, p_payment text)
RETURNS TABLE (payment_id uuid, status text, session_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT p.id, p.status, p.session_id FROM payments p WHERE p.session_id = p_session
    UNION ALL
    SELECT p.id, p.status, p.session_id FROM payments p
     WHERE p_payment ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
       AND p.id = p_payment::uuid AND p.session_id IS NULL
     LIMIT 1
$$;
REVOKE ALL ON FUNCTION rv_payment_of_session FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_payment_of_session TO reelvox_poller;

-- A session Stripe says is paid, as the poller re-read it: the pack's credits and
-- the payment's move to paid in one transaction, at most once (the payment's lock,
-- its status and credit_ledger_payment_once). A payment closed as failed or expired
-- here is still credited when Stripe took the money after all. The amount and
-- currency must be the payment's. status: credited | already | mismatch | not_found.
CREATE OR REPLACE FUNCTION rv_payment_fulfil(p_payment uuid, p_session text, p_intent text,
                                             p_amount bigint, p_currency text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    p payments;
BEGIN
    SELECT * INTO p FROM payments WHERE id = p_payment FOR UPDATE;
    IF NOT FOUND OR (p.session_id IS NOT NULL AND p.session_id <> p_session) THEN
        RETURN 'not_found';
    END IF;
    IF p.status IN ('paid', 'refunded', 'disputed') THEN
        RETURN 'already';
    END IF;
    IF p_amount IS DISTINCT FROM p.amount_cents OR p_currency IS DISTINCT FROM p.currency THEN
        RETURN 'mismatch';
    END IF;
    PERFORM rv_credit_move(p.user_id, p.credits, 'purchase',
                           left('Credit pack: ' || p.pack_name, 200), NULL, p.id);
    UPDATE payments SET status = 'paid', session_id = p_session, payment_intent = p_intent,
                        paid_at = now(), closed_at = NULL, error = NULL, updated_at = now()
     WHERE id = p.id;
    PERFORM rv_referral_qualify(p.user_id); -- a first purchase qualifies a referral
    -- The receipt, in this transaction: it goes out exactly when credits do, once
    -- (the dedupe key).
    PERFORM rv_mail_enqueue(p.user_id, 'receipt',
                            jsonb_build_object('credits', p.credits, 'amountCents', p.amount_cents,
                                               'currency', p.currency, 'packName', p.pack_name,
                                               'paymentId', p.id),
                            'receipt:' || p.id);
    RETURN 'credited';
END $$;
REVOKE ALL ON FUNCTION rv_payment_fulfil FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_payment_fulfil TO reelvox_poller;

-- A session that ended without money (checkout.session.expired, async payment
-- failed): a pending payment becomes p_status (expired | failed). Returns whether
-- it moved (a paid one never does).
CREATE OR REPLACE FUNCTION rv_payment_close(p_payment uuid, p_status text, p_error text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF p_status NOT IN ('expired', 'failed') THEN
        RAISE EXCEPTION 'a payment closes as expired or failed' USING ERRCODE = 'check_violation';
    END IF;
    UPDATE payments SET status = p_status, error = left(p_error, 500), closed_at = now(),
                        updated_at = now()
     WHERE id = p_payment AND status = 'pending';
    RETURN FOUND;
END $$;
REVOKE ALL ON FUNCTION rv_payment_close FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_payment_close TO reelvox_poller;

-- A refund (p_kind payment_refund) or a dispute (dispute) of the paid payment whose
-- PaymentIntent is p_intent: its credits times p_fraction (a partial refund; 1 for
-- a dispute) are taken back, as far as the balance goes; the rest is the shortfall,
-- recorded on the payment and the user, who is flagged. Once per payment: the first
-- of a refund and a dispute takes back, later ones are `already`.
-- status: taken | already | not_paid (not credited yet: an event out of order) |
-- not_found.
CREATE OR REPLACE FUNCTION rv_payment_take_back(p_intent text, p_kind text, p_fraction numeric)
RETURNS TABLE (status text, payment_id uuid, taken bigint, shortfall bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    p payments;
    want bigint;
    bal bigint;
    take bigint;
BEGIN
    IF p_kind NOT IN ('payment_refund', 'dispute') THEN
        RAISE EXCEPTION 'take back is payment_refund or dispute' USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO p FROM payments x WHERE x.payment_intent = p_intent FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::uuid, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    IF p.status <> 'paid' THEN
        RETURN QUERY SELECT CASE WHEN p.status IN ('refunded', 'disputed') THEN 'already'
                                 ELSE 'not_paid' END, p.id, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    want := LEAST(p.credits, GREATEST(1, round(p.credits * LEAST(GREATEST(p_fraction, 0), 1))));
    SELECT credits INTO bal FROM users WHERE id = p.user_id FOR UPDATE;
    take := LEAST(want, bal);
    IF take > 0 THEN
        PERFORM rv_credit_move(p.user_id, -take, p_kind,
                               CASE p_kind WHEN 'dispute' THEN 'Payment disputed: '
                                           ELSE 'Payment refunded: ' END || left(p.pack_name, 150),
                               NULL, p.id);
    END IF;
    IF want > take THEN
        UPDATE users SET credit_shortfall = credit_shortfall + (want - take),
                         payment_flagged = true, updated_at = now()
         WHERE id = p.user_id;
    END IF;
    UPDATE payments SET status = CASE p_kind WHEN 'dispute' THEN 'disputed' ELSE 'refunded' END,
                        taken_back = take, shortfall = want - take, updated_at = now()
     WHERE id = p.id;
    RETURN QUERY SELECT 'taken', p.id, take, want - take;
END $$;
REVOKE ALL ON FUNCTION rv_payment_take_back FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_payment_take_back TO reelvox_poller;

-- Pending payments older than p_after seconds that the reconciler has not looked at
-- in p_every seconds: marked looked-at and returned (their sessions are re-read at
-- Stripe). A payment without a session that old never reached Stripe's answer: the
-- caller closes it.
CREATE OR REPLACE FUNCTION rv_payments_to_reconcile(p_after integer, p_every integer,
                                                    p_limit integer)
RETURNS TABLE (payment_id uuid, session_id text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT p.id FROM payments p
         WHERE p.status = 'pending' AND p.created_at < now() - make_interval(secs => p_after)
           AND (p.checked_at IS NULL OR p.checked_at < now() - make_interval(secs => p_every))
         ORDER BY p.created_at LIMIT p_limit
           FOR UPDATE SKIP LOCKED)
    UPDATE payments p SET checked_at = now() FROM due WHERE p.id = due.id
    RETURNING p.id, p.session_id
$$;
REVOKE ALL ON FUNCTION rv_payments_to_reconcile FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_payments_to_reconcile TO reelvox_poller;

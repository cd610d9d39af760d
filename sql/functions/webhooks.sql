-- The webhook inbox (receivers store, the poller processes) and the providers'
-- signing secrets.

-- The webhook inbox. status: stored | duplicate | bad_token (unknown job or token).
CREATE OR REPLACE FUNCTION rv_webhook_receive(p_provider text, p_event text, p_job uuid,
                                              p_token text, p_payload jsonb)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    tok text;
BEGIN
    SELECT callback_token INTO tok FROM jobs WHERE id = p_job;
    IF tok IS NULL OR tok <> p_token THEN
        RETURN 'bad_token';
    END IF;
    INSERT INTO webhook_events (provider, event_id, job_id, payload)
    VALUES (p_provider, p_event, p_job, p_payload)
    ON CONFLICT (provider, event_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate';
    END IF;
    PERFORM pg_notify('reelvox_webhooks', p_job::text);
    RETURN 'stored';
END $$;
REVOKE ALL ON FUNCTION rv_webhook_receive FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_webhook_receive TO reelvox_app;

-- Pending inbox events, oldest first, with what the poller needs of their job and
-- the work the job holds (`held`), so an event of other work is seen as a duplicate.
-- Events of a job that another poller holds wait for its lease to end; they are
-- left out, so that they never fill the batch and hold up everything newer (a dead
-- poller's leases last RV_POLLER_LEASE). `busy` stays for the caller's shape.
CREATE OR REPLACE FUNCTION rv_webhooks_pending(p_limit integer, p_poller text)
RETURNS TABLE (event_id bigint, provider text, job_id uuid, payload jsonb, job_status text,
               kind text, user_id uuid, busy boolean, held text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e.id, e.provider, e.job_id, e.payload, j.status, j.kind, j.user_id, false,
           j.provider_job_id
      FROM webhook_events e LEFT JOIN jobs j ON j.id = e.job_id
     WHERE e.processed_at IS NULL AND e.provider <> 'stripe' -- payments: work_stripe.c
       AND NOT COALESCE(j.locked_until >= now() AND j.locked_by IS DISTINCT FROM p_poller, false)
     ORDER BY e.id LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION rv_webhooks_pending FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_webhooks_pending TO reelvox_poller;

CREATE OR REPLACE FUNCTION rv_webhooks_done(p_events bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE webhook_events SET processed_at = now() WHERE id = ANY (p_events)
$$;
REVOKE ALL ON FUNCTION rv_webhooks_done FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_webhooks_done TO reelvox_poller;

-- The secret of p_provider, NULL while none is known.
CREATE OR REPLACE FUNCTION rv_webhook_secret(p_provider text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT secret FROM webhook_secrets WHERE provider = p_provider
$$;
REVOKE ALL ON FUNCTION rv_webhook_secret FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_webhook_secret TO reelvox_app, reelvox_poller;

-- Stores what the provider said; true when the secret changed (a rotation).
CREATE OR REPLACE FUNCTION rv_webhook_secret_set(p_provider text, p_secret text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    old text;
BEGIN
    IF rv_role() <> 'system' THEN
        RAISE EXCEPTION 'only the poller stores webhook secrets' USING ERRCODE = '42501';
    END IF;
    SELECT secret INTO old FROM webhook_secrets WHERE provider = p_provider FOR UPDATE;
    INSERT INTO webhook_secrets AS w (provider, secret) VALUES (p_provider, p_secret)
    ON CONFLICT (provider) DO UPDATE
       SET secret = EXCLUDED.secret, fetched_at = now(),
           changed_at = CASE WHEN w.secret = EXCLUDED.secret THEN w.changed_at ELSE now() END;
    RETURN old IS DISTINCT FROM p_secret;
END $$;
REVOKE ALL ON FUNCTION rv_webhook_secret_set FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_webhook_secret_set TO reelvox_poller;

-- Hardening at the edges.
--
-- Webhook signing secrets: the poller fetches a provider's secret (Replicate:
-- GET /v1/webhooks/default/secret) and stores it here; the receivers read it and
-- never call the provider from a request. Only the poller (role 'system') writes.
CREATE TABLE webhook_secrets (
    provider   text PRIMARY KEY,
    secret     text NOT NULL CHECK (secret <> ''),
    fetched_at timestamptz NOT NULL DEFAULT now(),
    changed_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE webhook_secrets ENABLE ROW LEVEL SECURITY;

-- The secret of p_provider, NULL while none is known.
CREATE FUNCTION rv_webhook_secret(p_provider text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT secret FROM webhook_secrets WHERE provider = p_provider
$$;

-- Stores what the provider said; true when the secret changed (a rotation).
CREATE FUNCTION rv_webhook_secret_set(p_provider text, p_secret text) RETURNS boolean
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

REVOKE EXECUTE ON FUNCTION rv_webhook_secret, rv_webhook_secret_set FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rv_webhook_secret, rv_webhook_secret_set TO reelvox_app;

-- Operations: the poller's heartbeat, readiness and the figures of GET /metrics.

-- The poller, after every pass: p_host's last pass ended now and took p_pass_ms.
-- Rows of hosts silent for a week go.
CREATE OR REPLACE FUNCTION rv_poller_heartbeat(p_host text, p_pass_ms double precision)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO poller_heartbeats AS h (host, last_pass_at, pass_ms)
    VALUES (p_host, now(), p_pass_ms)
    ON CONFLICT (host) DO UPDATE SET last_pass_at = now(), pass_ms = EXCLUDED.pass_ms;
    DELETE FROM poller_heartbeats WHERE last_pass_at < now() - interval '7 days';
END $$;
REVOKE ALL ON FUNCTION rv_poller_heartbeat FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_poller_heartbeat TO reelvox_poller;

-- Readiness: which of p_migrations (the versions a build knows) the database has
-- not applied, and the age in seconds of the newest poller pass (NULL: none ever).
CREATE OR REPLACE FUNCTION rv_ops_ready(p_migrations text[])
RETURNS TABLE (missing text[], poller_age double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT ARRAY(SELECT m FROM unnest(p_migrations) m
                  WHERE NOT EXISTS (SELECT 1 FROM schema_migrations s WHERE s.version = m)
                  ORDER BY m),
           (SELECT extract(epoch FROM now() - max(last_pass_at))::double precision
              FROM poller_heartbeats);
END $$;
REVOKE ALL ON FUNCTION rv_ops_ready FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_ops_ready TO reelvox_app;

-- The database's figures for GET /metrics, one sample a row: its metric name, its
-- labels as a JSON object of strings and its value. Counts of every job scan the
-- jobs table: fine for a scrape every 15 s up to millions of rows.
CREATE OR REPLACE FUNCTION rv_ops_metrics()
RETURNS TABLE (metric text, labels jsonb, value double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT 'reelvox_jobs', jsonb_build_object('kind', j.kind, 'status', j.status,
                                               'provider', j.provider),
           count(*)::double precision
      FROM jobs j GROUP BY j.kind, j.status, j.provider;
    RETURN QUERY
    SELECT 'reelvox_queue_depth', '{}'::jsonb, count(*)::double precision
      FROM jobs WHERE status = 'queued';
    RETURN QUERY
    SELECT 'reelvox_queue_oldest_age_seconds', '{}'::jsonb,
           COALESCE(extract(epoch FROM now() - min(created_at)), 0)::double precision
      FROM jobs WHERE status = 'queued';
    RETURN QUERY
    SELECT 'reelvox_webhook_inbox_backlog', '{}'::jsonb, count(*)::double precision
      FROM webhook_events WHERE processed_at IS NULL;
    RETURN QUERY
    SELECT 'reelvox_webhook_inbox_oldest_age_seconds', '{}'::jsonb,
           COALESCE(extract(epoch FROM now() - min(received_at)), 0)::double precision
      FROM webhook_events WHERE processed_at IS NULL;
    RETURN QUERY
    SELECT 'reelvox_credits_charged_total', '{}'::jsonb, COALESCE(-sum(delta), 0)::double precision
      FROM credit_ledger WHERE kind = 'job_charge';
    RETURN QUERY
    SELECT 'reelvox_credits_refunded_total', '{}'::jsonb, COALESCE(sum(delta), 0)::double precision
      FROM credit_ledger WHERE kind = 'job_refund';
    RETURN QUERY
    SELECT 'reelvox_poller_last_pass_age_seconds', jsonb_build_object('host', h.host),
           extract(epoch FROM now() - h.last_pass_at)::double precision
      FROM poller_heartbeats h;
END $$;
REVOKE ALL ON FUNCTION rv_ops_metrics FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_ops_metrics TO reelvox_app;

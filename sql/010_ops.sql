-- Operations: the poller's heartbeat (GET /readyz asks whether a poller ran
-- recently) and what the readiness check may read of the migration bookkeeping.

-- One row per host that runs a poller: when its last pass over due work ended and
-- how long that pass took. Written only through rv_poller_heartbeat().
CREATE TABLE poller_heartbeats (
    host         text PRIMARY KEY CHECK (length(host) BETWEEN 1 AND 255),
    last_pass_at timestamptz NOT NULL DEFAULT now(),
    pass_ms      double precision NOT NULL DEFAULT 0
);
ALTER TABLE poller_heartbeats ENABLE ROW LEVEL SECURITY;

-- rv_ops_ready() (a SECURITY DEFINER function owned by reelvox_owner) compares
-- the applied migrations with the ones a build knows.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reelvox_owner') THEN
        GRANT SELECT ON schema_migrations TO reelvox_owner;
    END IF;
END $$;

-- The roles of sql/008 for what 005-007 made: the poller's functions to the poller's
-- role alone; what both sides use to both.

-- Stored files: registered and released by handlers (uploads) and the poller alike;
-- swept and settled as duplicates by the poller only.
REVOKE EXECUTE ON FUNCTION rv_storage_sweep, rv_provider_duplicate, rv_webhook_secret_set
    FROM reelvox_app;
GRANT EXECUTE ON FUNCTION rv_storage_pending, rv_storage_release, rv_storage_done,
    rv_storage_sweep, rv_provider_duplicate, rv_webhook_secret, rv_webhook_secret_set
    TO reelvox_poller;

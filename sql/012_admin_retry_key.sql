-- POST /api/admin/jobs/{id}/retry honours an Idempotency-Key: rv_admin_job_retry
-- takes it (p_idem) and finds a retry made with it in the audit log.
DROP FUNCTION IF EXISTS rv_admin_job_retry(uuid);

-- Sessions (refresh-token families), logins and passwords.

-- A session is a refresh-token family; its id is the access token's `sid`. It ends
-- after auth_limits.sessionMaxDays whatever rotation does.
CREATE OR REPLACE FUNCTION rv_session_start(p_user uuid, p_token_hash text, p_ttl integer)
RETURNS TABLE (user_json json, role text, session_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    fam uuid := gen_random_uuid();
    ends timestamptz := now() + make_interval(days => rv_auth_limit('sessionMaxDays', 90)::integer);
BEGIN
    INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, session_expires_at)
    VALUES (decode(p_token_hash, 'hex'), p_user, fam,
            LEAST(now() + make_interval(secs => p_ttl), ends), ends);
    RETURN QUERY SELECT rv_user_json(u), u.role, fam FROM users u WHERE u.id = p_user;
END $$;
REVOKE ALL ON FUNCTION rv_session_start FROM PUBLIC, reelvox_app, reelvox_poller;

-- Rotation: the presented token is spent and p_new of the same family issued, no
-- later than the family's end. The handler derives p_new from the presented token,
-- so a second use of a just-spent token within refreshGraceSeconds (0, off, by
-- default: API.md), while its successor is still live, answers that same successor
-- ('ok': clients refreshing at once). Any other use of a spent token revokes its
-- whole family.
-- status: ok | reused | invalid.
CREATE OR REPLACE FUNCTION rv_refresh_rotate(p_old text, p_new text, p_ttl integer)
RETURNS TABLE (status text, user_json json, user_id uuid, role text, session_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid;
    fam uuid;
    ends timestamptz;
    spent timestamptz;
    successor bytea;
BEGIN
    UPDATE refresh_tokens t SET revoked_at = now(), replaced_by = decode(p_new, 'hex')
     WHERE t.token_hash = decode(p_old, 'hex') AND t.revoked_at IS NULL
       AND t.expires_at > now() AND t.session_expires_at > now()
    RETURNING t.user_id, t.family_id, t.session_expires_at INTO uid, fam, ends;
    IF uid IS NULL THEN
        SELECT t.user_id, t.family_id, t.revoked_at, t.replaced_by INTO uid, fam, spent, successor
          FROM refresh_tokens t WHERE t.token_hash = decode(p_old, 'hex');
        IF spent IS NOT NULL AND successor = decode(p_new, 'hex')
           AND spent > now() - make_interval(secs => rv_auth_limit('refreshGraceSeconds', 0))
           AND EXISTS (SELECT 1 FROM refresh_tokens s
                        WHERE s.token_hash = successor AND s.revoked_at IS NULL
                          AND s.expires_at > now()) THEN
            RETURN QUERY SELECT 'ok', rv_user_json(u), u.id, u.role, fam
                           FROM users u WHERE u.id = uid;
        ELSIF spent IS NOT NULL THEN
            UPDATE refresh_tokens t SET revoked_at = now()
             WHERE t.family_id = fam AND t.revoked_at IS NULL;
            RETURN QUERY SELECT 'reused', NULL::json, NULL::uuid, NULL::text, NULL::uuid;
        ELSE
            RETURN QUERY SELECT 'invalid', NULL::json, NULL::uuid, NULL::text, NULL::uuid;
        END IF;
        RETURN;
    END IF;
    INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, session_expires_at)
    VALUES (decode(p_new, 'hex'), uid, fam, LEAST(now() + make_interval(secs => p_ttl), ends),
            ends);
    RETURN QUERY SELECT 'ok', rv_user_json(u), u.id, u.role, fam FROM users u WHERE u.id = uid;
END $$;
REVOKE ALL ON FUNCTION rv_refresh_rotate FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_refresh_rotate TO reelvox_app;

-- Logout: ends the caller's session (its refresh family).
CREATE OR REPLACE FUNCTION rv_session_end(p_session uuid) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    UPDATE refresh_tokens SET revoked_at = now()
     WHERE family_id = p_session AND user_id = rv_uid() AND revoked_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION rv_session_end FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_session_end TO reelvox_app;

-- Logout by refresh token: revokes the family of the presented token, whatever
-- state the token is in (spent, expired). Returns the family, NULL when the token
-- is unknown.
CREATE OR REPLACE FUNCTION rv_logout_refresh(p_token_hash text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    fam uuid;
BEGIN
    SELECT family_id INTO fam FROM refresh_tokens WHERE token_hash = decode(p_token_hash, 'hex');
    IF fam IS NOT NULL THEN
        UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = fam AND revoked_at IS NULL;
    END IF;
    RETURN fam;
END $$;
REVOKE ALL ON FUNCTION rv_logout_refresh FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_logout_refresh TO reelvox_app;

-- Whether an access token of session p_session for p_user with p_role still stands:
-- the family has a live token and the user still has that role. Logout, reuse
-- detection, a password change (other sessions), the session's end and a role
-- change all make it false.
CREATE OR REPLACE FUNCTION rv_session_valid(p_session uuid, p_user uuid, p_role text)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM refresh_tokens t JOIN users u ON u.id = t.user_id
                    WHERE t.family_id = p_session AND t.user_id = p_user AND u.role = p_role
                      AND t.revoked_at IS NULL AND t.expires_at > now())
$$;
REVOKE ALL ON FUNCTION rv_session_valid FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_session_valid TO reelvox_app;

-- ------------------------------------------------------------------- login
CREATE OR REPLACE FUNCTION rv_login_subject(p_email text) RETURNS bytea LANGUAGE sql IMMUTABLE AS
$$ SELECT sha256(convert_to(lower(p_email), 'UTF8')) $$;
REVOKE ALL ON FUNCTION rv_login_subject FROM PUBLIC, reelvox_app, reelvox_poller;

-- The start of a login: counts the attempt against the account (presumed failed
-- until rv_login_succeeded) and answers the hash to check. Always one row:
-- retry_after > 0 (and no user) when the account is throttled; user_id and
-- password_hash NULL for an unknown email.
CREATE OR REPLACE FUNCTION rv_login_begin(p_email text)
RETURNS TABLE (retry_after integer, user_id uuid, password_hash text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    wait integer := rv_attempt_take('login', rv_login_subject(p_email),
                                    rv_auth_limit('loginFailures', 10),
                                    rv_auth_limit('windowSeconds', 900));
BEGIN
    IF wait > 0 THEN
        RETURN QUERY SELECT wait, NULL::uuid, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 0, x.id, x.password_hash
                   FROM (SELECT 1) one
                   LEFT JOIN (SELECT u.id, c.password_hash FROM users u
                                JOIN user_credentials c ON c.user_id = u.id
                               WHERE lower(u.email) = lower(p_email)) x ON true;
END $$;
REVOKE ALL ON FUNCTION rv_login_begin FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_login_begin TO reelvox_app;

-- A correct password clears the account's failures.
CREATE OR REPLACE FUNCTION rv_login_succeeded(p_email text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM auth_attempts WHERE action = 'login' AND subject = rv_login_subject(p_email)
$$;
REVOKE ALL ON FUNCTION rv_login_succeeded FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_login_succeeded TO reelvox_app;

CREATE OR REPLACE FUNCTION rv_login_lookup(p_email text)
RETURNS TABLE (user_id uuid, password_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.id, c.password_hash FROM users u JOIN user_credentials c ON c.user_id = u.id
     WHERE lower(u.email) = lower(p_email)
$$;
REVOKE ALL ON FUNCTION rv_login_lookup FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_login_lookup TO reelvox_app;

-- The handlers are not granted rv_credit_move, rv_set_password or rv_session_start:
-- these wrappers check what the caller may do first.
CREATE OR REPLACE FUNCTION rv_login_session_start(p_user uuid, p_checked_hash text,
                                                  p_token_hash text, p_ttl integer)
RETURNS TABLE (user_json json, role text, session_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    -- A disabled account (PATCH /api/admin/users/{id}) signs in no more.
    PERFORM 1 FROM user_credentials c JOIN users u ON u.id = c.user_id
      WHERE c.user_id = p_user AND c.password_hash = p_checked_hash AND u.disabled_at IS NULL
        FOR SHARE OF c;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM rv_session_start(p_user, p_token_hash, p_ttl);
END $$;
REVOKE ALL ON FUNCTION rv_login_session_start FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_login_session_start TO reelvox_app;

-- Login's rehash (new Argon2 parameters): replaces p_old_hash, the hash the
-- password was just checked against, and nothing else. Returns whether it did.
CREATE OR REPLACE FUNCTION rv_login_rehash(p_user uuid, p_old_hash text, p_new_hash text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE user_credentials SET password_hash = p_new_hash, updated_at = now()
     WHERE user_id = p_user AND password_hash = p_old_hash;
    RETURN FOUND;
END $$;
REVOKE ALL ON FUNCTION rv_login_rehash FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_login_rehash TO reelvox_app;

-- ---------------------------------------------------------------- passwords
-- Sets a new hash for the caller, or for p_user during login (rehash on new
-- parameters). Ends every other session of the user when p_keep is given.
CREATE OR REPLACE FUNCTION rv_set_password(p_user uuid, p_hash text, p_keep uuid)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE user_credentials SET password_hash = p_hash, updated_at = now()
     WHERE user_id = p_user;
    IF p_keep IS NOT NULL THEN
        UPDATE refresh_tokens SET revoked_at = now()
         WHERE user_id = p_user AND family_id <> p_keep AND revoked_at IS NULL;
    END IF;
END $$;
REVOKE ALL ON FUNCTION rv_set_password FROM PUBLIC, reelvox_app, reelvox_poller;

CREATE OR REPLACE FUNCTION rv_my_password_hash() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT password_hash FROM user_credentials WHERE user_id = rv_uid()
$$;
REVOKE ALL ON FUNCTION rv_my_password_hash FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_my_password_hash TO reelvox_app;

-- A new password for the request's user (PATCH /api/me, after the handler checked
-- the current one); ends every other session of the user but p_keep.
CREATE OR REPLACE FUNCTION rv_my_password_set(p_hash text, p_keep uuid)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM rv_set_password(rv_uid_required(), p_hash, p_keep);
END $$;
REVOKE ALL ON FUNCTION rv_my_password_set FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_my_password_set TO reelvox_app;

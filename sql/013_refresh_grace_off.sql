-- A spent refresh token presented again answers 401 and revokes its family at once,
-- as API.md promises: the grace window (auth_limits.refreshGraceSeconds) is off by
-- default. Two tabs of the web studio no longer race (it refreshes under a
-- navigator.locks lock shared by its tabs); an operator whose other clients do may
-- set it again (0..300 s). An installation that changed the value keeps its own.
UPDATE admin_config
   SET value = jsonb_set(value, '{refreshGraceSeconds}', '0'), updated_at = now()
 WHERE key = 'auth_limits' AND value -> 'refreshGraceSeconds' = '10';

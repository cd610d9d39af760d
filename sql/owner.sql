-- Run by scripts/migrate after the numbered migrations and sql/functions/, every
-- time, in the same transaction as the functions (idempotent):
-- every table, view, sequence and function of the schema belongs to reelvox_owner,
-- a role without login or superuser, so SECURITY DEFINER functions never run as a
-- superuser. Tables keep their row level security; their owner is exempt from it
-- (no table FORCEs it), which is what the SECURITY DEFINER functions rely on.
-- Objects of extensions and the migration bookkeeping stay as they are. A no-op
-- without the role (001_accounts.sql makes it).
DO $$
DECLARE
    o record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reelvox_owner') THEN
        RETURN;
    END IF;
    FOR o IN
        SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
           AND c.relowner <> 'reelvox_owner'::regrole AND c.relname <> 'schema_migrations'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d -- serial sequences follow their table
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.deptype IN ('a', 'i', 'e'))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO reelvox_owner',
                       CASE o.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                      WHEN 'm' THEN 'MATERIALIZED VIEW'
                                      WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, o.name);
    END LOOP;
    FOR o IN -- enums and domains (a table's own row type follows the table)
        SELECT t.oid::regtype AS name, t.typtype FROM pg_type t
         WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd')
           AND t.typowner <> 'reelvox_owner'::regrole
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                            WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                              AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO reelvox_owner',
                       CASE o.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, o.name);
    END LOOP;
    FOR o IN
        SELECT p.oid::regprocedure AS name, p.prokind FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> 'reelvox_owner'::regrole
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                            WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                              AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO reelvox_owner',
                       CASE o.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                                      ELSE 'FUNCTION' END, o.name);
    END LOOP;
END $$;

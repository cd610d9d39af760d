-- What a language-model call of a job kind is made with: the model
-- (admin_config.providers.openai.models[kind], NULL: the adapter's default) and the
-- system prompt (admin_config.system_prompts[kind], NULL: none). Admins edit both
-- without a restart; the poller reads them at every call (common/providers/openai.h).
CREATE OR REPLACE FUNCTION rv_llm_settings(p_kind text)
RETURNS TABLE (model text, system_prompt text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT (SELECT value -> 'openai' -> 'models' ->> p_kind FROM admin_config
             WHERE key = 'providers'),
           (SELECT value ->> p_kind FROM admin_config WHERE key = 'system_prompts')
$$;
REVOKE ALL ON FUNCTION rv_llm_settings FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_llm_settings TO reelvox_poller;

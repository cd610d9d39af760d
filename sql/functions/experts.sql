-- Experts (issue 12): profiles kept by users with role expert, their JSON and
-- rating. Ratings are written in projects.sql (rv_project_rate); the average is
-- rating_sum ÷ rating_count, which the trigger project_ratings_sum keeps.

CREATE OR REPLACE FUNCTION rv_expert_rating(e expert_profiles) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN e.rating_count > 0 THEN round(e.rating_sum::numeric / e.rating_count, 2)
                ELSE 0 END
$$;

CREATE OR REPLACE FUNCTION rv_expert_json(e expert_profiles) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'userId', e.user_id, 'name', e.name, 'bio', e.bio, 'hourlyRateCents', e.hourly_rate_cents,
        'specialties', to_json(e.specialties), 'languages', to_json(e.languages),
        'rating', rv_expert_rating(e), 'ratingCount', e.rating_count,
        'availability', e.availability)
$$;

-- The request's user keeps their profile: only with role expert (the token's,
-- rv_role(), and the account's). Specialties must come from
-- admin_config.expert_specialties. outcome: ok | not_expert | bad_specialty.
CREATE OR REPLACE FUNCTION rv_expert_put(p_name text, p_bio text, p_rate bigint,
                                         p_specialties jsonb, p_languages jsonb,
                                         p_availability text)
RETURNS TABLE (outcome text, expert_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_uid_required();
    e expert_profiles;
    allowed text[] := ARRAY(SELECT jsonb_array_elements_text(value) FROM admin_config
                             WHERE key = 'expert_specialties');
    specs text[] := ARRAY(SELECT DISTINCT s FROM jsonb_array_elements_text(p_specialties) s
                           ORDER BY 1);
    langs text[] := ARRAY(SELECT DISTINCT s FROM jsonb_array_elements_text(p_languages) s
                           ORDER BY 1);
BEGIN
    IF rv_role() <> 'expert' OR NOT EXISTS (SELECT 1 FROM users u
                                             WHERE u.id = uid AND u.role = 'expert') THEN
        RETURN QUERY SELECT 'not_expert', NULL::json;
        RETURN;
    END IF;
    IF NOT specs <@ allowed THEN
        RETURN QUERY SELECT 'bad_specialty', NULL::json;
        RETURN;
    END IF;
    INSERT INTO expert_profiles (user_id, name, bio, hourly_rate_cents, specialties, languages,
                                 availability)
    VALUES (uid, p_name, COALESCE(p_bio, ''), p_rate, specs, langs, p_availability)
    ON CONFLICT (user_id) DO UPDATE
       SET name = EXCLUDED.name, bio = EXCLUDED.bio, hourly_rate_cents = EXCLUDED.hourly_rate_cents,
           specialties = EXCLUDED.specialties, languages = EXCLUDED.languages,
           availability = EXCLUDED.availability, updated_at = now()
    RETURNING * INTO e;
    RETURN QUERY SELECT 'ok', rv_expert_json(e);
END $$;
REVOKE ALL ON FUNCTION rv_expert_put FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_expert_put TO reelvox_app;

-- A page of experts (users with role expert and a profile), best rated first, by
-- specialty, language, availability and hourly rate range (NULL: any). Rows:
-- (total, expert_json); one row with NULL json when the page is empty.
CREATE OR REPLACE FUNCTION rv_experts_page(p_specialty text, p_language text, p_availability text,
                                           p_min_rate bigint, p_max_rate bigint,
                                           p_limit integer, p_offset integer)
RETURNS TABLE (total bigint, expert_json json)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY
    WITH f AS (SELECT e.* FROM expert_profiles e JOIN users u ON u.id = e.user_id
                WHERE u.role = 'expert'
                  AND (p_specialty IS NULL OR p_specialty = ANY (e.specialties))
                  AND (p_language IS NULL OR lower(p_language) = ANY (
                           SELECT lower(l) FROM unnest(e.languages) l))
                  AND (p_availability IS NULL OR e.availability = p_availability)
                  AND (p_min_rate IS NULL OR e.hourly_rate_cents >= p_min_rate)
                  AND (p_max_rate IS NULL OR e.hourly_rate_cents <= p_max_rate))
    SELECT t.n, pg.j
      FROM (SELECT count(*) AS n FROM f) t
      LEFT JOIN LATERAL (SELECT rv_expert_json(f) AS j, rv_expert_rating(f) AS r,
                                f.rating_count AS c, f.user_id
                           FROM f ORDER BY rv_expert_rating(f) DESC, f.rating_count DESC,
                                           f.user_id
                          LIMIT p_limit OFFSET p_offset) pg ON true
     ORDER BY pg.r DESC, pg.c DESC, pg.user_id;
END $$;
REVOKE ALL ON FUNCTION rv_experts_page FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_experts_page TO reelvox_app;

-- One expert's profile with their latest 50 ratings ({stars, comment, createdAt},
-- newest first). outcome: ok | not_found.
CREATE OR REPLACE FUNCTION rv_expert_get(p_expert uuid)
RETURNS TABLE (outcome text, expert_json json)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    e expert_profiles;
BEGIN
    SELECT x.* INTO e FROM expert_profiles x JOIN users u ON u.id = x.user_id
     WHERE x.user_id = p_expert AND u.role = 'expert';
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok', (rv_expert_json(e)::jsonb || jsonb_build_object('ratings',
        COALESCE((SELECT jsonb_agg(jsonb_build_object('stars', r.stars, 'comment', r.comment,
                                                      'createdAt', rv_ts(r.created_at))
                                   ORDER BY r.created_at DESC)
                    FROM (SELECT * FROM project_ratings pr WHERE pr.expert_id = p_expert
                           ORDER BY pr.created_at DESC LIMIT 50) r), '[]')))::json;
END $$;
REVOKE ALL ON FUNCTION rv_expert_get FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_expert_get TO reelvox_app;

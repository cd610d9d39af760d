-- Images: their JSON, uploads into a project (or none) and deletion of an image no
-- clip that is still being made reads. The stored copy (storage_key) is the image
-- decoded and re-encoded without its metadata, thumb_key a small JPEG of it; both
-- files are registered before they are stored (rv_storage_pending) and claimed here.

-- The image as API.md shows it; the handler adds url and thumbnailUrl (signed).
CREATE OR REPLACE FUNCTION rv_image_json(i images) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', i.id, 'filename', i.filename, 'contentType', i.content_type,
        'width', i.width, 'height', i.height, 'bytes', i.bytes, 'projectId', i.project_id,
        'source', i.source, 'createdAt', rv_ts(i.created_at)))
$$;

-- Records an upload of the request's user (reelvox.user_id). p_project: NULL, or a
-- project of that user (FOR SHARE: a project deleted meanwhile is seen by whichever
-- comes second). Both files are already stored under p_key and p_thumb; the handler
-- removes them again when this does not answer ok.
-- status: ok (image_json, image_id set) | project_not_found.
CREATE OR REPLACE FUNCTION rv_image_upload(p_project uuid, p_filename text, p_content_type text,
                                           p_width integer, p_height integer, p_bytes bigint,
                                           p_key text, p_thumb text)
RETURNS TABLE (status text, image_json json, image_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    i images;
BEGIN
    IF rv_uid() IS NULL THEN
        RAISE EXCEPTION 'no user in the request context' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_project IS NOT NULL THEN
        PERFORM 1 FROM projects p WHERE p.id = p_project AND p.user_id = rv_uid() FOR SHARE;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'project_not_found', NULL::json, NULL::uuid;
            RETURN;
        END IF;
    END IF;
    PERFORM rv_storage_claim(p_key);
    PERFORM rv_storage_claim(p_thumb);
    INSERT INTO images (user_id, project_id, filename, content_type, width, height, bytes,
                        storage_key, thumb_key, source)
    VALUES (rv_uid(), p_project, p_filename, p_content_type, p_width, p_height, p_bytes, p_key,
            p_thumb, 'upload')
    RETURNING * INTO i;
    RETURN QUERY SELECT 'ok', rv_image_json(i), i.id;
END $$;
REVOKE ALL ON FUNCTION rv_image_upload FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_image_upload TO reelvox_app;

-- Deletes an image of the request's user (any, for an admin) unless a clip that has
-- not ended is made from it. The row lock orders this against rv_clip_submit (FOR
-- SHARE there): whichever comes second sees the other. Finished clips keep their
-- video; their image_id becomes NULL. status: ok | not_found | in_use; keys: the
-- files to remove once this has committed.
CREATE OR REPLACE FUNCTION rv_image_delete(p_image uuid)
RETURNS TABLE (status text, keys text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    i images;
BEGIN
    SELECT * INTO i FROM images x
     WHERE x.id = p_image AND (x.user_id = rv_uid() OR rv_role() = 'admin') FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::text[];
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM clips c JOIN jobs j ON j.id = c.job_id
                WHERE c.image_id = i.id AND NOT rv_job_terminal(j.status)) THEN
        RETURN QUERY SELECT 'in_use', NULL::text[];
        RETURN;
    END IF;
    DELETE FROM images x WHERE x.id = i.id;
    RETURN QUERY SELECT 'ok', ARRAY[i.storage_key, i.thumb_key];
END $$;
REVOKE ALL ON FUNCTION rv_image_delete FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_image_delete TO reelvox_app;

"""POST|GET /api/images and GET|DELETE /api/images/{id}: the type by content, the
pixel limit before decoding, EXIF orientation applied and metadata (GPS) gone from
the stored copy, thumbnails, projects, ownership, and that no refused upload leaves
a file or a row or moves a credit."""
import requests
import pytest

from conftest import RFC3339_UTC, UUID_RE, assert_json, assert_problem
from imagekit import (GPS_RATIONALS, STORAGE, image_files, jpeg_with_gps, make_image,
                      make_project, png_bomb, upload_image)

IMAGE_KEYS = {"id", "filename", "contentType", "width", "height", "bytes", "source", "url",
              "thumbnailUrl", "createdAt"}


@pytest.fixture
def user(register):
    return register()


def stored(db, image_id):
    k, t = db.rows("SELECT storage_key, thumb_key FROM images WHERE id = :'i'", i=image_id)[0]
    return (STORAGE / k).read_bytes(), (STORAGE / t).read_bytes()


def assert_nothing_kept(db, u, credits):
    assert db.scalar("SELECT count(*) FROM images WHERE user_id = :'u'", u=u.id) == "0"
    assert image_files(db, u.id) == []
    assert db.credits(u.id) == credits
    # no registration left to the sweeper either: refused before anything was stored
    assert db.scalar("SELECT count(*) FROM storage_pending WHERE key LIKE 'images/%' "
                     "AND created_at > now() - interval '5 seconds'") == "0"


@pytest.mark.parametrize("kind,ctype,stored_type", [
    ("jpeg", "image/jpeg", "image/jpeg"),
    ("png", "image/png", "image/png"),
    ("webp", "image/webp", "image/jpeg"),
])
def test_upload_each_type(api, db, user, kind, ctype, stored_type):
    r = upload_image(api, user.access, make_image(kind, 64, 48), filename=f"Shot.{kind}",
                     ctype=ctype)
    img = assert_json(r, 201)
    assert set(img) == IMAGE_KEYS, img
    assert UUID_RE.match(img["id"]) and RFC3339_UTC.match(img["createdAt"])
    assert r.headers["Location"] == f"/api/images/{img['id']}"
    assert (img["width"], img["height"], img["contentType"]) == (64, 48, stored_type)
    assert img["filename"] == f"Shot.{kind}" and img["source"] == "upload"
    body, thumb = stored(db, img["id"])
    assert len(body) == img["bytes"]
    assert thumb[:3] == b"\xff\xd8\xff"
    got = requests.get(img["url"], timeout=10)
    assert got.status_code == 200 and got.content == body
    assert requests.get(img["thumbnailUrl"], timeout=10).content == thumb


def test_type_from_content_not_header(api, db, user):
    img = assert_json(upload_image(api, user.access, make_image("png"), ctype="image/jpeg"), 201)
    assert img["contentType"] == "image/png"


def test_exif_orientation_applied_and_gps_stripped(api, db, user):
    data = jpeg_with_gps(64, 32, orientation=6)
    assert GPS_RATIONALS in data and b"Exif" in data
    img = assert_json(upload_image(api, user.access, data), 201)
    assert (img["width"], img["height"]) == (32, 64)  # turned upright
    body, thumb = stored(db, img["id"])
    for f in (body, thumb):
        assert GPS_RATIONALS not in f and b"Exif" not in f and b"GPS" not in f


def test_thumbnail_at_most_320(api, db, user):
    img = assert_json(upload_image(api, user.access, make_image("png", 1000, 500),
                                   ctype="image/png"), 201)
    _, thumb = stored(db, img["id"])
    # the JPEG's SOF0 holds the size
    i = thumb.index(b"\xff\xc0")
    h, w = int.from_bytes(thumb[i + 5:i + 7], "big"), int.from_bytes(thumb[i + 7:i + 9], "big")
    assert (w, h) == (320, 160)


@pytest.mark.parametrize("what,data,ctype,status", [
    ("gif", None, "image/png", 415),
    ("svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png", 415),
    ("truncated png", None, "image/png", 422),
    ("20000x20000 png", None, "image/png", 422),
    ("empty", b"", "image/png", 422),
    ("wrong content type", None, "image/gif", 415),
])
def test_refused(api, db, user, what, data, ctype, status):
    if data is None:
        data = {"gif": lambda: make_image("gif"),
                "truncated png": lambda: make_image("png", 200, 200)[:400],
                "20000x20000 png": png_bomb,
                "wrong content type": lambda: make_image("png")}[what]()
    credits = db.credits(user.id)
    r = upload_image(api, user.access, data, ctype=ctype)
    assert_problem(r, status)
    assert_nothing_kept(db, user, credits)


def test_over_10_mib(api, db, user):
    r = upload_image(api, user.access, b"\x89PNG\r\n\x1a\n" + b"\0" * (10 * 1024 * 1024 + 1),
                     ctype="image/png")
    assert_problem(r, 413)
    assert_nothing_kept(db, user, db.credits(user.id))


def test_bad_filename_and_project(api, db, user, register):
    assert_problem(upload_image(api, user.access, make_image("png"), filename="",
                                ctype="image/png"), 400, fields=["filename"])
    assert_problem(upload_image(api, user.access, make_image("png"), ctype="image/png",
                                project="nope"), 400, fields=["projectId"])
    other = make_project(api, register())
    assert_problem(upload_image(api, user.access, make_image("png"), ctype="image/png",
                                project=other), 404)
    assert_nothing_kept(db, user, db.credits(user.id))


def test_list_by_project_and_pages(api, db, user):
    p = make_project(api, user)
    ids = [assert_json(upload_image(api, user.access, make_image("png"), ctype="image/png",
                                    project=p if i < 2 else None), 201)["id"] for i in range(3)]
    page = assert_json(api.get("/api/images?limit=2", token=user.access), 200)
    assert [i["id"] for i in page["items"]] == ids[::-1][:2]
    assert page["pagination"]["total"] == 3
    inp = assert_json(api.get(f"/api/images?projectId={p}", token=user.access), 200)
    assert sorted(i["id"] for i in inp["items"]) == sorted(ids[:2])
    assert all(i["projectId"] == p and i["thumbnailUrl"] for i in inp["items"])
    assert_problem(api.get("/api/images?projectId=x", token=user.access), 400)


def test_get_delete_and_ownership(api, db, user, register):
    img = assert_json(upload_image(api, user.access, make_image("jpeg")), 201)
    other = register()
    for method in ("GET", "DELETE"):
        assert_problem(api.request(method, f"/api/images/{img['id']}", token=other.access), 404)
    assert_problem(api.get("/api/images/not-a-uuid", token=user.access), 404)
    got = assert_json(api.get(f"/api/images/{img['id']}", token=user.access), 200)
    assert got["id"] == img["id"] and got["url"] and got["thumbnailUrl"]
    files = image_files(db, user.id)
    assert len(files) == 2
    assert api.request("DELETE", f"/api/images/{img['id']}", token=user.access).status_code == 204
    assert not any((STORAGE / f).exists() for f in files)
    assert_problem(api.get(f"/api/images/{img['id']}", token=user.access), 404)


def test_unauthenticated(api):
    assert_problem(upload_image(api, None, make_image("png"), ctype="image/png"), 401)
    assert_problem(api.get("/api/images"), 401)

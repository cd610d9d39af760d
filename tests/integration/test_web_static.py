"""The web studio's files as nginx serves them: pages are index.html and never
cached, hashed assets are cached a year, anything else is a 404 problem."""
import re
from pathlib import Path

import pytest

from conftest import assert_problem

DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
pytestmark = pytest.mark.skipif(not (DIST / "index.html").exists(),
                                reason="the web studio is not built (scripts/web-build)")


@pytest.mark.parametrize("path", ["/", "/signin", "/tts", "/videos/0b5b7e0e-1", "/admin/config",
                                  "/checkout/done"])
def test_pages_are_the_index_never_cached(api, path):
    r = api.get(path)
    assert r.status_code == 200, (path, r.status_code)
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Cache-Control"] == "no-cache"
    assert '<div id="app">' in r.text
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_assets_are_hashed_and_cached_a_year(api):
    index = api.get("/").text
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', index)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for a in assets:
        r = api.get(a)
        assert r.status_code == 200, a
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        if a.endswith(".js"):
            assert re.search(r"-[A-Z0-9]{8}\.js$", a), a
            assert "javascript" in r.headers["Content-Type"]


@pytest.mark.parametrize("path", ["/nope", "/assets/missing-00000000.js", "/tts.php", "/.git/config"])
def test_other_paths_are_404(api, path):
    assert_problem(api.get(path), 404, "not_found")

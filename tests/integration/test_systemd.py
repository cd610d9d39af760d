"""scripts/install into a scratch root (DESTDIR), then checks what it staged:
files and modes, the env file, the rendered nginx config (nginx -t) and the
units (systemd-analyze verify). Works as root in a container without systemd as
PID 1 and never touches the real /etc: everything goes through --destdir and
systemd's --root.

Needs no running stack; RV_TEST_URL & co. are not used."""
import base64
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PORT = "8089"  # not the suite's RV_PORT, to see the install honour RV_PORT
LIB = "usr/local/lib/reelvox"
UNITS = "etc/systemd/system"
UNIT_FILES = ["reelvox@.socket", "reelvox@.service", "reelvox.target",
              "reelvox-nginx.service", "reelvox-poller.service", "reelvox-poller.timer"]


def endpoints():
    return sorted(p.name for p in (REPO / "bin").iterdir()
                  if p.is_file() and os.access(p, os.X_OK) and p.name != "poller")


def install(dest, *args):
    # A clean environment: the suite's RV_* (port, rates) must not leak into it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RV_")}
    env.update(RV_PORT=PORT)
    env.pop("DESTDIR", None)
    r = subprocess.run([str(REPO / "scripts/install"), "--destdir", str(dest), *args],
                       env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    d = tmp_path_factory.mktemp("destdir")
    install(d)  # builds bin/ if needed
    return d


def mode(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


def env_values(dest):
    vals = {}
    for line in (dest / "etc/reelvox/reelvox.env").read_text().splitlines():
        m = re.match(r'^(RV_[A-Z_]+)="?(.*?)"?$', line)
        if m:
            vals[m.group(1)] = m.group(2)
    return vals


def test_files_and_modes(dest):
    names = endpoints()
    assert names, "no endpoint binaries in bin/"
    want = {f"{LIB}/bin/{n}": 0o755 for n in names}
    want.update({f"{LIB}/sql/{p.name}": 0o644 for p in (REPO / "sql").glob("*.sql")})
    want.update({
        f"{LIB}/scripts/migrate": 0o755,
        f"{LIB}/nginx/fastcgi.conf": 0o644,
        f"{LIB}/nginx/errors.conf": 0o644,
        "etc/reelvox/nginx.conf": 0o644,
        "etc/reelvox/endpoints.conf": 0o644,
        "etc/reelvox/reelvox.env": 0o640,
        "etc/logrotate.d/reelvox": 0o644,
        "var/lib/reelvox": 0o2750,
        "var/log/reelvox": 0o755,
    })
    want.update({f"{UNITS}/{u}": 0o644 for u in UNIT_FILES})
    got = {p: oct(mode(dest / p)) for p in want if (dest / p).exists()}
    assert got == {p: oct(m) for p, m in want.items()}

    # Enabled as `systemctl enable` does it: every endpoint's socket in the target.
    wants = dest / UNITS / "reelvox.target.wants"
    for n in names:
        assert os.readlink(wants / f"reelvox@{n}.socket") == "/etc/systemd/system/reelvox@.socket"
    assert (wants / "reelvox-nginx.service").is_symlink()
    assert (dest / UNITS / "multi-user.target.wants/reelvox.target").is_symlink()
    assert (wants / "reelvox-poller.timer").is_symlink() == (REPO / "bin/poller").exists()


def test_env_file(dest):
    vals = env_values(dest)
    secret = vals["RV_JWT_SECRET"]
    assert len(base64.b64decode(secret)) == 48  # openssl rand -base64 48
    assert len(set(secret)) >= 12               # what config_secret_ok demands
    assert "dbname=reelvox" in vals["RV_DATABASE_URL"]
    # The poller connects as its own role, not as the handlers' one.
    assert "user=reelvox_poller" in vals["RV_POLLER_DATABASE_URL"]
    assert "user=reelvox_app" in vals["RV_DATABASE_URL"]
    assert vals["RV_PORT"] == PORT
    assert vals["RV_PUBLIC_URL"] == f"http://127.0.0.1:{PORT}"


def test_no_secret_world_readable(dest):
    # Any staged file holding the secret (only the env file should) is closed to
    # others; units hold no secret at all.
    secret = env_values(dest)["RV_JWT_SECRET"].encode()
    holders = []
    for root, _, files in os.walk(dest):
        for f in files:
            p = Path(root, f)
            if p.is_file() and not p.is_symlink() and secret in p.read_bytes():
                holders.append(p.relative_to(dest))
                assert mode(p) & 0o007 == 0, f"{p} holds the secret and is world-accessible"
    assert holders == [Path("etc/reelvox/reelvox.env")]
    for u in UNIT_FILES:
        text = (dest / UNITS / u).read_text()
        assert not re.search(r"^Environment=.*(SECRET|PASSWORD|KEY)", text, re.M | re.I), u


def test_reinstall_is_idempotent(dest, tmp_path):  # dest: bin/ is built
    install(tmp_path, "--no-build")
    env = tmp_path / "etc/reelvox/reelvox.env"
    before = env.read_bytes()
    env.chmod(0o644)  # an admin's slip: the next install closes it again
    install(tmp_path, "--no-build")
    assert env.read_bytes() == before  # same secret: never regenerated
    assert mode(env) == 0o640


def test_reinstall_drops_removed_endpoints(dest, tmp_path):
    # An endpoint whose binary left the source: its binary and socket go too.
    install(tmp_path, "--no-build")
    gone = tmp_path / LIB / "bin/gone"
    gone.write_text("#!/bin/sh\n")
    gone.chmod(0o755)
    link = tmp_path / UNITS / "reelvox.target.wants/reelvox@gone.socket"
    link.symlink_to("/etc/systemd/system/reelvox@.socket")
    install(tmp_path, "--no-build")
    assert not gone.exists() and not link.is_symlink()
    assert (link.parent / "reelvox@healthz.socket").is_symlink()


def test_nginx_config(dest, tmp_path):
    conf = (dest / "etc/reelvox/nginx.conf").read_text()
    assert "user reelvox www-data;" in conf
    assert f"listen 127.0.0.1:{PORT} " in conf
    assert "include /etc/reelvox/endpoints.conf;" in conf
    # No placeholder left (named locations such as @sink are nginx's own syntax).
    assert not re.search(r"@[A-Z_]+@", re.sub(r"#.*", "", conf))
    assert "fastcgi_pass unix:/run/reelvox/healthz.sock;" in \
        (dest / "etc/reelvox/endpoints.conf").read_text()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(nginx, os.X_OK):
        pytest.skip("nginx is not installed")
    # nginx -t on a copy whose system paths point into a scratch root.
    root = tmp_path / "root"
    shutil.copytree(dest, root, symlinks=True)
    (root / "run/reelvox-nginx").mkdir(parents=True)
    sys_path = re.compile(r"(?<![\w/.-])(/etc/reelvox|/usr/local/lib/reelvox|/var/lib/reelvox"
                          r"|/var/log/reelvox|/run/reelvox(?:-nginx)?)(?=[/;\s]|$)")
    for f in ("nginx.conf", "endpoints.conf"):
        p = root / "etc/reelvox" / f
        text = sys_path.sub(lambda m: str(root) + m.group(1), p.read_text())
        # The reelvox user exists only where install ran for real, not in a DESTDIR.
        p.write_text(text.replace("user reelvox www-data;", "user www-data www-data;"))
    r = subprocess.run([nginx, "-t", "-q", "-e", str(tmp_path / "error.log"),
                        "-c", str(root / "etc/reelvox/nginx.conf")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def verify_root(dest, tmp_path):
    """A copy of the staged tree that systemd-analyze --root can check: it needs
    the distribution's units (sysinit.target, ...) and every ExecStart binary
    under the root. Programs from outside Reelvox (nginx, kill) get stubs when the
    host has them; the poller too until it is built. A Reelvox binary that
    install failed to stage stays missing, so verify reports it."""
    root = tmp_path / "vroot"
    shutil.copytree(dest, root, symlinks=True)
    sysunits = Path("/usr/lib/systemd/system")
    if not sysunits.is_dir():
        sysunits = Path("/lib/systemd/system")
    shutil.copytree(sysunits, root / "usr/lib/systemd/system", symlinks=True)

    def stub(path):
        p = root / path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("#!/bin/sh\nexit 0\n")
        p.chmod(0o755)

    for u in UNIT_FILES:
        for m in re.finditer(r"^Exec\w+=[-@:+!]*(/\S+)", (root / UNITS / u).read_text(), re.M):
            path = m.group(1)
            if not path.startswith("/usr/local/lib/reelvox/") and os.access(path, os.X_OK):
                stub(path)
    if not (REPO / "bin/poller").exists():
        stub("/usr/local/lib/reelvox/bin/poller")
    return root


def verify(root):
    # --recursive-errors=no: judge our units only, not the host's; with it,
    # systemd 252 also exits non-zero on the lines it "ignores" (bad values,
    # unknown keys), which the default mode lets pass with status 0.
    names = [f"reelvox@{n}.{t}" for n in endpoints() for t in ("socket", "service")]
    names += ["reelvox.target", "reelvox-nginx.service", "reelvox-poller.service",
              "reelvox-poller.timer"]
    return subprocess.run(["systemd-analyze", "verify", "--man=no", "--recursive-errors=no",
                           f"--root={root}", *names],
                          capture_output=True, text=True, timeout=120, cwd=root)


@pytest.fixture
def analyze():
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (scripts/setup installs systemd)")


def test_units_verify(analyze, dest, tmp_path):
    r = verify(verify_root(dest, tmp_path))
    # Any line is a finding: systemd ignores a bad directive and carries on, so
    # a typo in SocketMode= would silently leave the socket open to everyone.
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr


def test_verify_catches_a_broken_unit(analyze, dest, tmp_path):
    # The check above must not pass vacuously: break one directive, see it fail.
    root = verify_root(dest, tmp_path)
    sock = root / UNITS / "reelvox@.socket"
    sock.write_text(sock.read_text().replace("SocketMode=0660", "SocketMode=rw"))
    r = verify(root)
    assert r.returncode != 0
    assert "SocketMode" in r.stderr or "mode" in (r.stdout + r.stderr)

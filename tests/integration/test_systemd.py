"""scripts/install into a scratch root (DESTDIR), then checks what it staged:
files and modes, the env files and which unit reads which, the rendered nginx
config (nginx -t), the units (systemd-analyze verify) and their sandboxing
(systemd-analyze security: every service scores 2.0 or better). Works as root in a container without systemd as
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
# Endpoints that never touch a token: no jwt.env for them (a drop-in).
NO_SECRET = sorted(p.stem for p in (REPO / "handlers").glob("*.c")
                   if "RV_NO_SECRET" in p.read_text() and (REPO / "bin" / p.stem).exists()
                   and p.stem != "poller")
SERVICES = [u for u in UNIT_FILES if u.endswith(".service")]
MAX_EXPOSURE = 2.0


def endpoints():
    return sorted(p.name for p in (REPO / "bin").iterdir()
                  if p.is_file() and os.access(p, os.X_OK) and p.name != "poller")


def install(dest, *args, port=PORT, ok=True):
    # A clean environment: the suite's RV_* (port, rates) must not leak into it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RV_")}
    env.update(RV_PORT=port)
    env.pop("DESTDIR", None)
    r = subprocess.run([str(REPO / "scripts/install"), "--destdir", str(dest), *args],
                       env=env, capture_output=True, text=True, timeout=900)
    if ok:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    d = tmp_path_factory.mktemp("destdir")
    install(d)  # builds bin/ if needed
    return d


def mode(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


def env_values(dest, name="reelvox.env"):
    vals = {}
    for line in (dest / "etc/reelvox" / name).read_text().splitlines():
        m = re.match(r'^(RV_[A-Z_]+)="?(.*?)"?$', line)
        if m:
            vals[m.group(1)] = m.group(2)
    return vals


def test_files_and_modes(dest):
    names = endpoints()
    assert names, "no endpoint binaries in bin/"
    want = {f"{LIB}/bin/{n}": 0o755 for n in names}
    want.update({f"{LIB}/sql/{p.name}": 0o644 for p in (REPO / "sql").glob("*.sql")})
    want.update({f"{LIB}/sql/functions/{p.name}": 0o644
                 for p in (REPO / "sql/functions").glob("*.sql")})
    want.update({
        f"{LIB}/scripts/migrate": 0o755,
        f"{LIB}/nginx/fastcgi.conf": 0o644,
        f"{LIB}/nginx/errors.conf": 0o644,
        "etc/reelvox/nginx.conf": 0o644,
        "etc/reelvox/endpoints.conf": 0o644,
        "etc/reelvox/reelvox.env": 0o640,
        "etc/reelvox/jwt.env": 0o640,
        "etc/logrotate.d/reelvox": 0o644,
        # Reelvox's alone: no group www-data, no setgid (nginx runs as reelvox).
        "var/lib/reelvox": 0o750,
        "var/lib/reelvox/storage": 0o750,
        "var/lib/reelvox/nginx": 0o750,
        "var/log/reelvox": 0o750,
    })
    want.update({f"{UNITS}/reelvox@{n}.service.d/no-secret.conf": 0o644 for n in NO_SECRET})
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
    assert "RV_JWT_SECRET" not in vals  # in jwt.env, for the units that use it
    secret = env_values(dest, "jwt.env")["RV_JWT_SECRET"]
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
    secret = env_values(dest, "jwt.env")["RV_JWT_SECRET"].encode()
    holders = []
    for root, _, files in os.walk(dest):
        for f in files:
            p = Path(root, f)
            if p.is_file() and not p.is_symlink() and secret in p.read_bytes():
                holders.append(p.relative_to(dest))
                assert mode(p) & 0o007 == 0, f"{p} holds the secret and is world-accessible"
    assert holders == [Path("etc/reelvox/jwt.env")]
    for u in UNIT_FILES:
        text = (dest / UNITS / u).read_text()
        assert not re.search(r"^Environment=.*(SECRET|PASSWORD|KEY)", text, re.M | re.I), u


def test_reinstall_is_idempotent(dest, tmp_path):  # dest: bin/ is built
    install(tmp_path, "--no-build")
    for name in ("reelvox.env", "jwt.env"):
        env = tmp_path / "etc/reelvox" / name
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


def test_reinstall_drops_removed_migrations(dest, tmp_path):
    # A migration or function file that left the source goes from the installed
    # tree too: scripts/migrate would otherwise apply it.
    install(tmp_path, "--no-build")
    stale = [tmp_path / LIB / "sql/003_uploads.sql", tmp_path / LIB / "sql/functions/gone.sql"]
    for f in stale:
        f.write_text("SELECT 1;\n")
    install(tmp_path, "--no-build")
    assert not any(f.exists() for f in stale)
    assert (tmp_path / LIB / "sql/001_accounts.sql").exists()
    assert (tmp_path / LIB / "sql/functions/jobs.sql").exists()


def test_nginx_config(dest, tmp_path):
    conf = (dest / "etc/reelvox/nginx.conf").read_text()
    # nginx runs as reelvox from the start (its unit's User=): no user switch.
    assert not re.search(r"^\s*user\s", conf, re.M)
    # The bench's own locations are not in an installed server.
    code = re.sub(r"#.*", "", conf)
    assert "nginx-ping" not in code and "nginx-sink" not in code and "bench.conf" not in code
    assert f"listen 127.0.0.1:{PORT} " in conf
    assert "include /etc/reelvox/endpoints.conf;" in conf
    # No placeholder left (named locations such as @sink are nginx's own syntax).
    assert not re.search(r"@[A-Z_]+@", re.sub(r"#.*", "", conf))
    endpoints_conf = (dest / "etc/reelvox/endpoints.conf").read_text()
    # Every endpoint through its upstream, whose connections nginx keeps.
    assert "fastcgi_pass rv_healthz;" in endpoints_conf
    assert "upstream rv_healthz { server unix:/run/reelvox/healthz.sock; keepalive " in conf
    assert "fastcgi_keep_conn on;" in (dest / "usr/local/lib/reelvox/nginx/fastcgi.conf").read_text()
    # Uploads: the token is checked before the body is read, and a slow or
    # greedy client is held (per address: at once and per second; timeouts).
    audios = re.search(r"location = /api/audios \{(.*?)\n\}", endpoints_conf, re.S).group(1)
    for d in ("auth_request /_rv/auth;", "limit_conn uploads_conn 4;",
              "limit_req zone=uploads burst=10 nodelay;", "client_body_timeout 30s;",
              "send_timeout 30s;"):
        assert d in audios, d
    assert "limit_req_zone $rv_upload_key zone=uploads:10m rate=2r/s;" in conf
    assert re.search(r"^\s*client_header_timeout 10s;", conf, re.M)
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
        p.write_text(sys_path.sub(lambda m: str(root) + m.group(1), p.read_text()))
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


# ------------------------------------------------------------------- sandboxing


def exposure(unit_path):
    """systemd-analyze's overall exposure score of a unit file (0 best, 10 worst)."""
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                        str(unit_path)], capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    return float(m.group(1)), r.stdout


def test_units_sandboxed(analyze, dest):
    """Every service Reelvox installs, nginx's included, is sandboxed to an
    exposure of 2.0 or better, and dumps no core (which would hold the keys)."""
    scores = {}
    for u in SERVICES:
        score, report = exposure(dest / UNITS / u)
        scores[u] = score
        text = (dest / UNITS / u).read_text()
        assert re.search(r"^LimitCORE=0$", text, re.M), u
        assert re.search(r"^NoNewPrivileges=yes$", text, re.M), u
        assert re.search(r"^CapabilityBoundingSet=$", text, re.M), u
    assert all(v <= MAX_EXPOSURE for v in scores.values()), scores


def test_security_check_is_not_vacuous(analyze, dest, tmp_path):
    # The parse above must see a bad score: nginx's unit as it was (no User=, no
    # sandbox beyond a few lines) scores far above 2.0.
    bare = tmp_path / "reelvox-nginx.service"
    bare.write_text("[Service]\nExecStart=/usr/sbin/nginx\nProtectSystem=full\n")
    assert exposure(bare)[0] > MAX_EXPOSURE


def unit_env_files(text):
    """EnvironmentFile= paths a unit (or drop-in) ends up with, `-` stripped; an
    empty assignment resets the list, as systemd does."""
    files = []
    for m in re.finditer(r"^EnvironmentFile=(.*)$", text, re.M):
        v = m.group(1).strip()
        files = [] if not v else files + [v.lstrip("-")]
    return files


def test_secrets_reach_only_their_units(dest):
    units = dest / UNITS
    nginx = (units / "reelvox-nginx.service").read_text()
    # nginx needs no secret and gets none: no env file, no credential, no
    # Environment= at all.
    assert not re.search(r"^(EnvironmentFile|Environment|LoadCredential\w*|SetCredential\w*)=",
                         nginx, re.M), nginx
    assert re.search(r"^User=reelvox$", nginx, re.M)
    for u in ("reelvox@.service", "reelvox-poller.service"):
        assert unit_env_files((units / u).read_text()) == \
            ["/etc/reelvox/reelvox.env", "/etc/reelvox/jwt.env"], u
    # healthz and version never touch a token: their drop-in leaves jwt.env out.
    assert NO_SECRET, "no RV_NO_SECRET endpoint built"
    for n in NO_SECRET:
        text = (units / "reelvox@.service").read_text() + \
            (units / f"reelvox@{n}.service.d/no-secret.conf").read_text()
        assert unit_env_files(text) == ["/etc/reelvox/reelvox.env"], n
    others = [n for n in endpoints() if n not in NO_SECRET]
    assert others and not any((units / f"reelvox@{n}.service.d").exists() for n in others)
    # The sockets: reelvox's own nginx only, not every www-data process.
    sock = (units / "reelvox@.socket").read_text()
    for d in ("SocketUser=reelvox", "SocketGroup=reelvox", "SocketMode=0660"):
        assert re.search(rf"^{d}$", sock, re.M), d
    assert "www-data" not in re.sub(r"#.*", "", sock)


def test_low_port_gets_only_bind_capability(dest, tmp_path):
    install(tmp_path, "--no-build", port="443")
    dropin = tmp_path / UNITS / "reelvox-nginx.service.d/port.conf"
    text = dropin.read_text()
    assert re.search(r"^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$", text, re.M)
    assert re.search(r"^AmbientCapabilities=CAP_NET_BIND_SERVICE$", text, re.M)
    install(tmp_path, "--no-build", port="8443")
    assert not dropin.exists()


def test_start_refuses_placeholder_password(dest, tmp_path):
    r = install(tmp_path, "--no-build", "--start", ok=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "CHANGE_ME" in r.stderr
    env = tmp_path / "etc/reelvox/reelvox.env"
    env.write_text(env.read_text().replace("password=CHANGE_ME", "password=s3cret-Pw-0f-reelvox"))
    r = install(tmp_path, "--no-build", "--start")
    assert "CHANGE_ME" not in r.stderr

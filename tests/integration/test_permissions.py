"""What the running stack leaves open on this machine: its FastCGI sockets and
stored files are for its own nginx and handlers, not for every other user (on an
installed system, test_systemd checks the same of the units and folders)."""
import os
import stat
from pathlib import Path

from conftest import DATA_DIR


def others_and_group(p):
    return stat.S_IMODE(os.stat(p).st_mode) & 0o077


def test_sockets_closed_to_others():
    fcgi = Path(DATA_DIR) / "run/fcgi"
    socks = list(fcgi.glob("*.sock"))
    assert socks and any(s.name == "auth_check.sock" for s in socks), socks
    assert others_and_group(fcgi) & 0o007 == 0, oct(os.stat(fcgi).st_mode)
    for s in socks:
        assert stat.S_ISSOCK(os.stat(s).st_mode)
        assert others_and_group(s) == 0, (s, oct(os.stat(s).st_mode))


def test_storage_closed_to_others():
    storage = Path(DATA_DIR) / "storage"
    assert others_and_group(storage) & 0o007 == 0, oct(os.stat(storage).st_mode)

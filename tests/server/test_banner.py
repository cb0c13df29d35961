"""What `python -m server` prints at start: addresses a browser can open, and for a wildcard bind how
to let other machines in (the Host/Origin guard refuses addresses that are not allowed)."""
import os
import subprocess
import sys

from server.banner import banner, machine_addresses
from tests.support.browser import free_port
from tests.support.paths import ROOT

LOCAL = ["http://127.0.0.1:5000", "http://localhost:5000", "http://[::1]:5000"]


def test_a_specific_address_is_the_url():
    assert banner("127.0.0.1", 5000, LOCAL) == ["Serving on http://127.0.0.1:5000"]
    assert banner("::1", 8080, LOCAL) == ["Serving on http://[::1]:8080"]


def test_a_wildcard_bind_names_the_local_url_and_how_to_allow_this_machines_address():
    lines = banner("0.0.0.0", 5000, LOCAL, addresses=lambda: ["10.0.0.5", "192.168.1.7"])
    text = "\n".join(lines)
    assert "0.0.0.0:" not in text  # not an address a browser can open
    assert "On this machine: http://127.0.0.1:5000" in text
    assert "PLAYGROUND_ALLOWED_ORIGINS=http://10.0.0.5:5000 python -m server --host 0.0.0.0 --port 5000" in text
    assert "10.0.0.5, 192.168.1.7" in text


def test_a_wildcard_bind_with_allowed_origins_lists_them():
    lines = banner("0.0.0.0", 5000, LOCAL + ["http://10.0.0.5:5000"], addresses=lambda: ["10.0.0.5"])
    assert "From other machines: http://10.0.0.5:5000" in "\n".join(lines)
    assert not any("refused" in line for line in lines)


def test_without_a_known_address_the_example_says_what_to_fill_in():
    text = "\n".join(banner("::", 5000, LOCAL, addresses=lambda: []))
    assert "PLAYGROUND_ALLOWED_ORIGINS=http://<this machine's address>:5000" in text


def test_machine_addresses_skip_loopback_and_duplicates():
    def resolve(name, port, family):
        return [(family, 0, 0, "", (address, 0)) for address in ("127.0.1.1", "10.0.0.5", "10.0.0.5")]
    addresses = machine_addresses(resolve=resolve, hostname=lambda: "pc")
    assert "127.0.1.1" not in addresses and addresses.count("10.0.0.5") == 1


def test_the_real_server_prints_the_banner_for_a_wildcard_bind(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PLAYGROUND_ALLOWED_ORIGINS"}
    proc = subprocess.Popen([sys.executable, "-m", "server", "--host", "0.0.0.0", "--port", str(port),
                             "--db", str(tmp_path / "runs.sqlite")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert lines[0].startswith(f"Serving on every address of this machine, port {port}.")
    assert f"http://127.0.0.1:{port}" in lines[1]
    assert "refused" in lines[2]

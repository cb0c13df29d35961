"""What `python -m server` prints at start: the addresses a browser can open.

A wildcard bind (0.0.0.0, ::) is not an address a browser can open, and the Host/Origin guard refuses
every address not in the allowed origins (server/security.py); so for a wildcard bind the banner says
which addresses work and, when no address of this machine's network is allowed yet, how to allow one.
"""

import socket
from urllib.parse import urlsplit

from .security import LOOPBACK_HOSTS, bracket

WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def machine_addresses(resolve=socket.getaddrinfo, hostname=socket.gethostname):
    """This machine's non-loopback IPv4 addresses that its own name resolves to, plus the address
    of the interface that routes outward (found with a UDP socket's connect, which sends nothing)."""
    found = []
    try:
        found += [info[4][0] for info in resolve(hostname(), None, socket.AF_INET)]
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            found.append(probe.getsockname()[0])
    except OSError:
        pass
    addresses = []
    for address in found:
        if address not in addresses and not address.startswith("127.") and address != "0.0.0.0":
            addresses.append(address)
    return addresses


def banner(host, port, allowed_origins, addresses=machine_addresses):
    """Lines to print once the server is about to listen on host:port."""
    if host not in WILDCARD_HOSTS:
        return [f"Serving on http://{bracket(host)}:{port}"]
    others = [origin for origin in allowed_origins if urlsplit(origin).hostname not in LOOPBACK_HOSTS]
    lines = [f"Serving on every address of this machine, port {port}.",
             f"  On this machine: http://127.0.0.1:{port}"]
    if others:
        lines += [f"  From other machines: {', '.join(others)}"]
        return lines
    mine = addresses()
    example = f"http://{mine[0]}:{port}" if mine else f"http://<this machine's address>:{port}"
    lines += ["  Other machines are refused until the address they type is allowed, e.g.",
              f"    PLAYGROUND_ALLOWED_ORIGINS={example} python -m server --host {host or '0.0.0.0'} --port {port}"]
    if len(mine) > 1:
        lines += [f"  (this machine's addresses: {', '.join(mine)})"]
    return lines

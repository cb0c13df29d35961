"""deploy/nginx.conf with its placeholders filled in, for nginx_server() of tests/support/services.py."""

from __future__ import annotations

from pathlib import Path

NGINX_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"


def nginx_config(web_nodes: list[str], port: int, host: str = "127.0.0.1") -> str:
    """The deployment's nginx.conf, listening on host:port, in front of `web_nodes` ("HOST:PORT" each).

    `{prefix}` is left in: nginx_server() fills it with its own temporary folder.
    """
    if not web_nodes:
        raise ValueError("nginx needs at least one web node")
    servers = " ".join(f"server {node};" for node in web_nodes)
    text = NGINX_CONF.read_text()
    return text.replace("{web_nodes}", servers).replace("{listen}", f"{host}:{port}")

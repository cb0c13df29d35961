"""The --broker URL: checked at the command line, shown in messages without its password.

Parsed by hand (urllib) so that checking it loads nothing of Redis or Celery.
"""

from urllib.parse import urlsplit

SCHEMES = ("redis", "rediss")


def check_broker(url):
    """`url` if it is a redis://HOST:PORT/N URL, else ValueError saying what is expected."""
    text = str(url).strip() if url is not None else ""
    try:
        parts = urlsplit(text)
        parts.port  # raises ValueError when the port is not a number
    except ValueError:
        raise ValueError(f"{_without_password(text)!r} cannot be read (is its port a number?);"
                         " write it as redis://HOST:PORT/N") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"expected redis://HOST:PORT/N, got {_without_password(text)!r}")
    if not parts.hostname:
        raise ValueError(f"{_without_password(text)!r} names no host; write it as redis://HOST:PORT/N")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError(f"the Redis database must be a number (redis://HOST:PORT/N), got {database!r}")
    return text


def redis_address(url):
    """HOST:PORT of a Redis URL, for messages (never its password)."""
    try:
        parts = urlsplit(str(url))
        host, port = parts.hostname, parts.port
    except ValueError:
        return str(url).rsplit("@", 1)[-1]
    if not host:
        return str(url).rsplit("@", 1)[-1]
    return f"{host}:{port or 6379}"


def _without_password(url):
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        credentials, _, place = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user + ':***' if ':' in credentials else user}@{place}"
    return url

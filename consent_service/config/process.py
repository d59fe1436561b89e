"""What the service reads from, or sets in, the process environment besides its settings.

The staff password is read by one command and never held by a server, so it is no setting. The
metrics directory and glibc's arena count are set for the workers a server starts, because
prometheus_client and glibc read the environment themselves, in each worker. They live in the config
package so that it stays the only reader of ``os.environ``; each takes the environment as an argument
so a test can pass its own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, MutableMapping

from consent_service.config.sections import Settings

#: A new staff account's password, for scripts and tests. Not a setting: the service never needs it, so
#: it is read only by ``consent-service staff create`` and never held for the life of a server.
STAFF_PASSWORD = "CONSENT_STAFF_PASSWORD"  # noqa: S105 (the variable's name, not a password)
#: Where prometheus_client keeps each worker's figures; it reads the variable itself, in each worker.
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: The setting ``serve`` fills in from its own address when the operator left it unset.
PUBLIC_BASE_URL = "CONSENT_PUBLIC_BASE_URL"
#: Addresses that mean "every interface": no family's browser can open them, so links name this machine.
_EVERY_INTERFACE = {"0.0.0.0", "::", ""}  # noqa: S104 (recognised, not bound)


def staff_password(environ: Mapping[str, str] | None = None) -> str | None:
    """``CONSENT_STAFF_PASSWORD`` if set: the password ``staff create`` gives the new account."""
    return (os.environ if environ is None else environ).get(STAFF_PASSWORD) or None


def share_metrics_between_workers(
    settings: Settings, environ: MutableMapping[str, str] | None = None
) -> None:
    """With several workers, each keeps its metrics in files that ``/metrics`` adds up.

    An operator's own ``PROMETHEUS_MULTIPROC_DIR`` is kept; else ``<data dir>/metrics``, emptied of a
    previous run's figures, is named in this process's environment for the workers it starts to inherit.
    """
    env = os.environ if environ is None else environ
    if METRICS_DIR in env:
        return
    directory = settings.data_dir / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    env[METRICS_DIR] = str(directory)


def mint_links_for(host: str, port: int, environ: MutableMapping[str, str] | None = None) -> str | None:
    """Without ``CONSENT_PUBLIC_BASE_URL``, links point at the address ``serve`` listens on.

    The setting's default names port 8000, so ``serve --port 8080`` minted links nobody could open.
    The workers build their settings from the environment they inherit, so the address is set there,
    in this process, before they start. A wildcard host (``0.0.0.0``, ``::``) names ``localhost``: it
    is the one name that reaches the server from its own machine, and a server others reach should
    have its public URL set anyway. Returns the URL set, or None when the operator chose one.
    """
    env = os.environ if environ is None else environ
    if env.get(PUBLIC_BASE_URL, "").strip():
        return None
    name = "localhost" if host in _EVERY_INTERFACE else host
    if ":" in name and not name.startswith("["):  # an IPv6 address is bracketed in a URL
        name = f"[{name}]"
    env[PUBLIC_BASE_URL] = url = f"http://{name}:{port}"
    return url


def keep_worker_memory_compact(environ: MutableMapping[str, str] | None = None) -> None:
    """Two glibc memory arenas per worker, unless the operator chose a number.

    glibc gives each thread that allocates an arena of its own (up to eight per core) and rarely hands
    one back; with the SQLite driver's threads a worker's resident memory crept up under load. Two
    arenas kept it flat in the soak (docs/RELIABILITY.md). glibc reads this when a process starts, so
    it is set here, in the serving process, for the workers it starts to inherit.
    """
    env = os.environ if environ is None else environ
    env.setdefault("MALLOC_ARENA_MAX", "2")

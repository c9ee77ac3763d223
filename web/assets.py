"""Browser libraries served as npm ships them, from web/node_modules (`npm ci` in web/, done by the Makefile).

Only the dist folders named in PACKAGES are reachable; URLs carry the package version, so browsers may
keep them for a long time and a new version is a new URL. Nothing is bundled or built.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

from flask import abort, send_from_directory

from web.workspace import bp

NODE_MODULES = Path(os.environ.get("GOVFLOW_NODE_MODULES") or Path(__file__).resolve().parent / "node_modules")

# name in the URL -> (npm package, its folder that is served)
PACKAGES = {
    "htmx": ("htmx.org", "dist"),
    "form-js": ("@bpmn-io/form-js", "dist"),
    "bpmn-js": ("bpmn-js", "dist"),
    "dmn-js": ("dmn-js", "dist"),
}
CACHE_SECONDS = 30 * 24 * 3600


@cache
def version(name: str) -> str:
    package, _ = PACKAGES[name]
    manifest = NODE_MODULES / package / "package.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return "missing"


def url(name: str, path: str) -> str:
    return f"/vendor/{name}/{version(name)}/{path}"


def installed() -> bool:
    return all(version(name) != "missing" for name in PACKAGES)


@bp.get("/vendor/<name>/<ver>/<path:path>")
def vendor(name: str, ver: str, path: str):  # noqa: ANN201 - a file response
    if name not in PACKAGES:
        abort(404)
    package, folder = PACKAGES[name]
    root = NODE_MODULES / package / folder
    if not root.is_dir():
        abort(404, description=f"{package} is not installed: run `npm ci` in web/ (make run does it).")
    return send_from_directory(root, path, max_age=CACHE_SECONDS if ver == version(name) else 0)

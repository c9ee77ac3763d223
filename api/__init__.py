"""govflow's REST facade (/api/v1) and the app factory that also mounts the workspace."""

from api.app import create_app

__all__ = ["create_app"]

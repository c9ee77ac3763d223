"""The WSGI entry point gunicorn loads (`govflow serve`)."""

from api.app import create_app
from engine.startup_heap import freeze_startup_heap

application = create_app()
freeze_startup_heap()

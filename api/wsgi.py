"""The WSGI entry point gunicorn loads (`govflow serve`)."""

from api.app import create_app

application = create_app()

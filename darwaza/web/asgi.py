"""The ASGI entry point for servers: ``uvicorn darwaza.web.asgi:app``."""

from darwaza.web.app import create_app

app = create_app()

"""The ASGI entry point for servers: ``uvicorn darwaza.asgi:app``."""

from darwaza.app import create_app
from darwaza.logs import configure_logging
from darwaza.settings import get_settings

configure_logging(get_settings().log_level, get_settings().log_format)

app = create_app(serving=True)

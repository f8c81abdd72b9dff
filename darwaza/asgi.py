"""The ASGI entry point for servers: ``uvicorn darwaza.asgi:app``."""

import logging

from darwaza.app import create_app
from darwaza.settings import get_settings

logging.basicConfig(
    level=get_settings().log_level.upper(),
    format="%(asctime)s %(levelname)s %(name)s %(message)s",
)

app = create_app()

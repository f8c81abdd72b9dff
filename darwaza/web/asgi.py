"""The ASGI entry point for servers: ``uvicorn darwaza.web.asgi:app``."""

import logging

from darwaza.settings import get_settings
from darwaza.web.app import create_app

logging.basicConfig(
    level=get_settings().log_level.upper(),
    format="%(asctime)s %(levelname)s %(name)s %(message)s",
)

app = create_app()

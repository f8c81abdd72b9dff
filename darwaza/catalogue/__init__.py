"""The catalogue: agencies, their services and the documents they issue, as data.

Adding a service is adding a YAML file; see :mod:`darwaza.catalogue.definitions` for
what a file may say and :func:`darwaza.catalogue.loading.load_catalogue` for reading a
folder of them.
"""

from darwaza.catalogue.definitions import (
    AgencyDefinition,
    Catalogue,
    CatalogueError,
    CatalogueProblem,
    DocumentTypeDefinition,
    FieldDefinition,
    RequiredDocument,
    ServiceDefinition,
)
from darwaza.catalogue.loading import load_catalogue

__all__ = [
    "AgencyDefinition",
    "Catalogue",
    "CatalogueError",
    "CatalogueProblem",
    "DocumentTypeDefinition",
    "FieldDefinition",
    "RequiredDocument",
    "ServiceDefinition",
    "load_catalogue",
]

"""The catalogue: agencies, their services and the documents they issue, as data.

Adding a service is adding a YAML file; see :mod:`darwaza.catalogue.schema` for
what a file may say and :func:`darwaza.catalogue.loading.load_catalogue` for reading a
folder of them.
"""

from darwaza.catalogue.catalogue import Catalogue
from darwaza.catalogue.checks import CatalogueError, CatalogueProblem
from darwaza.catalogue.loading import load_catalogue
from darwaza.catalogue.schema import (
    AgencyDefinition,
    ClaimDefinition,
    DocumentTypeDefinition,
    FieldDefinition,
    RequiredDocument,
    ServiceDefinition,
)

__all__ = [
    "AgencyDefinition",
    "Catalogue",
    "CatalogueError",
    "CatalogueProblem",
    "ClaimDefinition",
    "DocumentTypeDefinition",
    "FieldDefinition",
    "RequiredDocument",
    "ServiceDefinition",
    "load_catalogue",
]

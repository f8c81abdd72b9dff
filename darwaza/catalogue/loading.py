"""Reading a catalogue folder of YAML files, and telling the operator everything wrong.

The folder holds one definition per file::

    agencies/hec.yaml
    services/hec-degree-attestation.yaml
    document-types/hec-degree-attestation.yaml

and each file's name (without ``.yaml``) is the id inside it. Problems are collected
over all files and raised together, each naming the file, the line and the place in
the definition (``fields[2].pattern``), so one run shows everything to fix.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from darwaza.catalogue.catalogue import Catalogue
from darwaza.catalogue.checks import FOLDERS, CatalogueError, CatalogueProblem, DefinitionKind
from darwaza.catalogue.schema import AgencyDefinition, DocumentTypeDefinition, ServiceDefinition

__all__ = ["CatalogueError", "CatalogueProblem", "load_catalogue"]

MODELS: Final[Mapping[DefinitionKind, type[BaseModel]]] = {
    "agency": AgencyDefinition,
    "service": ServiceDefinition,
    "document_type": DocumentTypeDefinition,
}


def load_catalogue(directory: Path) -> Catalogue:
    """Read and check every definition under ``directory``.

    Raises :class:`CatalogueError` listing every problem in every file: YAML syntax
    (with its line), definitions of the wrong shape, a file whose name is not its id,
    duplicate names, and references to agencies or document types that do not exist.
    A missing ``agencies``, ``services`` or ``document-types`` folder counts as empty.
    """
    if not directory.is_dir():
        raise CatalogueError(
            [CatalogueProblem(str(directory), "", "the catalogue folder does not exist")]
        )
    problems: list[CatalogueProblem] = []
    loaded: dict[DefinitionKind, dict[str, Any]] = {kind: {} for kind in MODELS}
    unloaded: dict[DefinitionKind, set[str]] = {kind: set() for kind in MODELS}
    lines_of_file: dict[str, dict[str, int]] = {}
    for kind, model in MODELS.items():
        folder = directory / FOLDERS[kind]
        if not folder.is_dir():
            continue
        for stray in sorted(folder.glob("*.yml")):
            unloaded[kind].add(stray.stem)
            problems.append(
                CatalogueProblem(
                    _relative(stray, directory),
                    "",
                    "only files ending in .yaml are read; rename this file",
                )
            )
        for path in sorted(folder.glob("*.yaml")):
            file = _relative(path, directory)
            reading = _read_definition(path, file, model)
            problems.extend(reading.problems)
            lines_of_file[file] = reading.lines
            if reading.definition is None:
                # References to a definition that exists but is broken are not reported
                # again: its own problems say what to fix.
                unloaded[kind].add(path.stem)
                if reading.declared_id:
                    unloaded[kind].add(reading.declared_id)
            else:
                loaded[kind][path.stem] = reading.definition
    catalogue = Catalogue(
        agencies=loaded["agency"],
        services=loaded["service"],
        document_types=loaded["document_type"],
    )
    for problem in catalogue.problems(unloaded=unloaded):
        line = lines_of_file.get(problem.file, {}).get(problem.field)
        problems.append(CatalogueProblem(problem.file, problem.field, problem.message, line=line))
    if problems:
        problems.sort(key=lambda problem: (problem.file, problem.line or 0))
        raise CatalogueError(problems)
    return catalogue


def _relative(path: Path, directory: Path) -> str:
    return path.relative_to(directory).as_posix()


@dataclass
class _Reading:
    """What one file gave: its definition (None if it has problems), the id it declares,
    the line of each place in it, and its problems."""

    definition: Any | None = None
    declared_id: str | None = None
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[CatalogueProblem] = field(default_factory=list)


def _read_definition(path: Path, file: str, model: type[BaseModel]) -> _Reading:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return _Reading(problems=[CatalogueProblem(file, "", "is not UTF-8 text")])
    except OSError as exc:
        return _Reading(problems=[CatalogueProblem(file, "", f"cannot be read: {exc.strerror}")])
    try:
        loader = _DefinitionLoader(text)
        try:
            node = loader.get_single_node()
            data = None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        return _Reading(problems=[_syntax_problem(file, exc)])
    except yaml.YAMLError as exc:
        return _Reading(problems=[CatalogueProblem(file, "", f"is not valid YAML: {exc}")])
    if node is None or data is None:
        return _Reading(problems=[CatalogueProblem(file, "", "is empty")])
    if not isinstance(data, dict):
        return _Reading(
            problems=[CatalogueProblem(file, "", "must be a mapping of keys to values", line=1)]
        )
    lines = _lines_of(node)
    problems: list[CatalogueProblem] = []
    stem = path.stem
    declared_id = data["id"] if isinstance(data.get("id"), str) else None
    if "id" in data and data["id"] != stem:
        problems.append(
            CatalogueProblem(
                file,
                "id",
                f"must equal the file name {stem!r} (found {data['id']!r}); "
                "rename the file or change the id",
                line=lines.get("id"),
            )
        )
    try:
        definition = model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            place = field_path(error["loc"])
            problems.append(
                CatalogueProblem(file, place, describe(error), line=_nearest_line(lines, error))
            )
        return _Reading(None, declared_id, lines, problems)
    return _Reading(None if problems else definition, declared_id, lines, problems)


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> CatalogueProblem:
    mark = exc.problem_mark or exc.context_mark
    reason = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
    if mark is None:
        return CatalogueProblem(file, "", f"is not valid YAML: {reason}")
    return CatalogueProblem(
        file,
        "",
        f"is not valid YAML: {reason} (line {mark.line + 1}, column {mark.column + 1})",
        line=mark.line + 1,
    )


# libyaml's parser when PyYAML was built with it (about ten times faster), else Python's.
try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _DefinitionLoader(_SafeLoader):
    """YAML's safe loader, refusing a key given twice (plain YAML keeps the last one
    silently, which hides mistakes)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    f"while reading a mapping (line {seen[key]})",
                    node.start_mark,
                    f"found the key {key!r} a second time",
                    key_node.start_mark,
                )
            if isinstance(key, Hashable):
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _construct_date(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    # YAML reads 2000-13-01 as a date and fails with a bare ValueError; name the place.
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a real date ({exc})", node.start_mark
        ) from exc


_DefinitionLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_date)


def _lines_of(
    node: yaml.Node, path: str = "", lines: dict[str, int] | None = None
) -> dict[str, int]:
    """The line of every place in the document, by its field path (``fields[2].type``)."""
    lines = {} if lines is None else lines
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            lines[child] = key_node.start_mark.line + 1
            _lines_of(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = f"{path}[{index}]"
            lines[child] = item.start_mark.line + 1
            _lines_of(item, child, lines)
    return lines


def _nearest_line(lines: Mapping[str, int], error: ErrorDetails) -> int | None:
    """The line of the place an error names, or of its closest enclosing place."""
    location = list(error["loc"])
    while location:
        line = lines.get(field_path(tuple(location)))
        if line is not None:
            return line
        location.pop()
    return None


def field_path(location: tuple[int | str, ...]) -> str:
    """A validation error's location as written in a definition: ``fields[2].type``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


_TYPE_MESSAGES: Final[Mapping[str, str]] = {
    "missing": "is required",
    "extra_forbidden": "is not a known key here (check its spelling and indentation)",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of keys to values",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
    "date_type": "must be a date as YYYY-MM-DD",
}


def describe(error: ErrorDetails) -> str:
    """A validation error in words an operator editing YAML understands."""
    kind = error["type"]
    context: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "catalogue_rule":
        return error["msg"]
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind]
    if kind == "literal_error":
        expected = str(context.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}"
    if kind == "greater_than":
        return f"must be more than {context['gt']}"
    if kind == "greater_than_equal":
        return f"must be at least {context['ge']}"
    if kind == "less_than":
        return f"must be less than {context['lt']}"
    if kind == "less_than_equal":
        return f"must be at most {context['le']}"
    if kind == "string_too_short":
        return f"must have at least {context['min_length']} characters"
    if kind == "string_too_long":
        return f"must have at most {context['max_length']} characters"
    if kind == "too_short":
        return f"must have at least {context['min_length']} item(s)"
    if kind == "too_long":
        return f"must have at most {context['max_length']} item(s)"
    message = str(error["msg"])
    return message[:1].lower() + message[1:]

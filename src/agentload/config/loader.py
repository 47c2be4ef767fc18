"""Load a scenario file into a ``Scenario``, or fail with one ``Problem`` per finding.

Every problem names the file and line, the field path, what is wrong and what is allowed,
so the CLI can print one line each and exit 2. Nothing here raises anything but
``ConfigError``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from agentload.config import secrets
from agentload.config.models import (
    AgentSessionRequest,
    AgentTaskRequest,
    ClosedLoad,
    HttpRequest,
    Scenario,
    SessionLoad,
)
from agentload.config.protocols import A2ARequest, ResponsesRequest
from agentload.config.retry import Backoff, RetryPolicy
from agentload.config.sessions import ContextCheck, Distribution, resolve_dataset_paths
from agentload.errors import ConfigError, Problem

_MAX_FILE_BYTES = 8 * 1024 * 1024

Path_ = tuple[str | int, ...]


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, override (``path.to.field=value``), expand ``${ENV}`` in headers, validate."""
    source = str(path)
    text = _read_text(Path(path))
    return parse_scenario(
        text, source=source, overrides=overrides, base_dir=Path(path).resolve().parent
    )


def parse_scenario(
    text: str, *, source: str, overrides: Sequence[str] = (), base_dir: Path | None = None
) -> Scenario:
    """``base_dir``: where relative file paths in the scenario (a trace) are resolved."""
    data, lines = _parse_yaml(text, source)
    overridden: dict[Path_, str] = {}
    for override in overrides:
        data = _apply_override(data, override)
        key = override.partition("=")[0].strip()
        overridden[tuple(key.split("."))] = override
    data = _expand_env(data, source, lines)
    if base_dir is not None:
        data = _resolve_trace_path(data, base_dir)
        data = resolve_dataset_paths(data, base_dir)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, source, lines, data, overridden)) from None


def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            raise ConfigError([Problem(str(path), None, "", "is a directory; give a YAML file")])
        with path.open("rb") as handle:  # bounded: /dev/zero must not fill the memory
            raw = handle.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), None, "", "no such file")]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, "", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > _MAX_FILE_BYTES:
        raise ConfigError([Problem(str(path), None, "", "file is larger than 8 MiB")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            [Problem(str(path), None, "", "is not UTF-8 text; a scenario is a YAML file")]
        ) from None


def _parse_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[Path_, int]]:
    _reject_aliases(text, source)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([Problem(source, line, "", f"invalid YAML: {reason}")]) from None
    except (RecursionError, ValueError, OverflowError) as exc:
        raise ConfigError([Problem(source, None, "", f"invalid YAML: {exc}")]) from None
    if data is None:
        raise ConfigError(
            [Problem(source, 1, "", "file is empty; a scenario needs target, load and request")]
        )
    if not isinstance(data, dict):
        line = node.start_mark.line + 1 if node is not None else None
        raise ConfigError(
            [
                Problem(
                    source, line, "", "a scenario must be a mapping with target, load and request"
                )
            ]
        )
    lines: dict[Path_, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return {str(k): v for k, v in data.items()}, lines


def _reject_aliases(text: str, source: str) -> None:
    """Anchors and aliases can expand a small file into an enormous document (a YAML bomb)."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ConfigError(
                    [
                        Problem(
                            source,
                            event.start_mark.line + 1 if event.start_mark else None,
                            "",
                            "YAML aliases (*name) are not supported; write the value out",
                        )
                    ]
                )
    except yaml.YAMLError:
        return  # reported with its line by the full parse


def _index_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*path, index), lines)


def _apply_override(data: dict[str, Any], override: str) -> dict[str, Any]:
    key, sep, raw_value = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            [Problem("--set", None, "", f"{override!r}: write it as path.to.field=value")]
        )
    try:
        value = yaml.safe_load(raw_value) if raw_value.strip() else ""
    except yaml.YAMLError:
        value = raw_value
    parts = key.strip().split(".")
    root: dict[str, Any] = dict(data)
    node = root
    for part in parts[:-1]:
        child = node.get(part)
        child = dict(child) if isinstance(child, dict) else {}
        node[part] = child
        node = child
    node[parts[-1]] = value
    return root


def _resolve_trace_path(data: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    load = data.get("load")
    arrival = load.get("arrival") if isinstance(load, dict) else None
    if not isinstance(arrival, dict) or arrival.get("kind") != "trace":
        return data
    path = arrival.get("path")
    if not isinstance(path, str) or Path(path).is_absolute():
        return data
    arrival = {**arrival, "path": str(base_dir / path)}
    assert isinstance(load, dict)
    return {**data, "load": {**load, "arrival": arrival}}


def _expand_env(data: dict[str, Any], source: str, lines: dict[Path_, int]) -> dict[str, Any]:
    target = data.get("target")
    if not isinstance(target, dict):
        return data
    problems: list[Problem] = []

    def expand(value: Any, path: Path_) -> Any:
        if not isinstance(value, str):
            return value

        def sub(match: re.Match[str]) -> str:
            try:
                resolved = secrets.resolve_match(match, os.environ)
            except secrets.SecretRefError as exc:
                problems.append(Problem(source, _line_for(path, lines), _dotted(path), str(exc)))
                return ""
            if path[:2] == ("target", "headers"):
                secrets.remember(resolved)  # redacted wherever agentload writes
            return resolved

        return secrets.REF_RE.sub(sub, value)

    new_target = dict(target)
    if "base_url" in target:
        new_target["base_url"] = expand(target["base_url"], ("target", "base_url"))
    headers = target.get("headers")
    if isinstance(headers, dict):
        new_target["headers"] = {
            k: expand(v, ("target", "headers", str(k))) for k, v in headers.items()
        }
    if problems:
        raise ConfigError(problems)
    return {**data, "target": new_target}


def _problems(
    exc: ValidationError,
    source: str,
    lines: dict[Path_, int],
    data: Mapping[str, Any],
    overridden: Mapping[Path_, str],
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors(include_url=False):
        path = _user_path(error["loc"], data)
        message = _message(error, path, data)
        key = (_dotted(path), message)
        if key in seen:
            continue
        seen.add(key)
        override = next((o for p, o in overridden.items() if path[: len(p)] == p), None)
        if override is not None:  # the value came from the command line, not the file
            problems.append(Problem(f"--set {override}", None, _dotted(path), message))
        else:
            problems.append(Problem(source, _line_for(path, lines), _dotted(path), message))
    return problems


def _user_path(loc: Iterable[int | str], data: Any) -> Path_:
    """Drop pydantic's union tags from a location so it matches what the user wrote."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list | tuple) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[int(part)]
        elif isinstance(node, dict) and isinstance(part, str) and not _is_tag(part):
            path.append(part)  # a missing or unknown key: still part of the path
            node = None
    return tuple(path)


def _is_tag(part: str) -> bool:
    return (
        part in {"open", "closed", "sessions", "openai-chat", "http", "agent-session", "agent-task"}
        or "[" in part
    )


def _message(error: Any, path: Path_, data: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(path[:-1], data)
        hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"unknown field{hint}"
    if kind == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        return f"unknown kind; expected one of {expected}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message[0].lower() + message[1:] if message else message


_LOAD_MODELS: dict[str, type[BaseModel]] = {
    "closed": ClosedLoad,
    "sessions": SessionLoad,
}
_REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "openai-responses": ResponsesRequest,
    "a2a": A2ARequest,
    "http": HttpRequest,
    "agent-session": AgentSessionRequest,
    "agent-task": AgentTaskRequest,
}


def _allowed_fields(path: Path_, data: Mapping[str, Any]) -> list[str]:
    """The field names a mapping at ``path`` may hold, for 'unknown field' hints."""
    from agentload.config import models

    load = data.get("load")
    load_model = load.get("model", "open") if isinstance(load, dict) else "open"
    request = data.get("request")
    request_protocol = request.get("protocol") if isinstance(request, dict) else None
    by_top: dict[str, list[type[BaseModel]]] = {
        "": [models.Scenario],
        "target": [models.Target],
        "target.timeouts": [models.Timeouts],
        "target.retry": [RetryPolicy],
        "target.retry.backoff": [Backoff],
        "load": [_LOAD_MODELS.get(str(load_model), models.OpenLoad)],
        "load.turns": [Distribution if load_model == "sessions" else models.TurnCount],
        "load.think_time": [Distribution if load_model == "sessions" else models.ThinkTime],
        "load.session_duration": [Distribution],
        "load.context_check": [ContextCheck],
        "request": [_REQUEST_MODELS.get(str(request_protocol), models.ChatRequest)],
    }
    dotted = ".".join(str(p) for p in path if not isinstance(p, int))
    if dotted.startswith("request.messages"):
        return list(models.Message.model_fields)
    names: list[str] = []
    for model in by_top.get(dotted, []):
        names.extend(n for n in model.model_fields if n not in names)
    return names


def _line_for(path: Path_, lines: dict[Path_, int]) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out

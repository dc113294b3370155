"""Config validation against the workflow's JSON schema, with defaults filled in, and the one way
from a config mapping to a parameter dataclass.

The schema (``workflow/schemas/config.schema.yaml``) is the one place where every key, its type,
range, default and meaning are written down; the Snakefile validates before any job is built, and
stage entry points receive only the slice they depend on.  Library code takes small parameter
dataclasses, made from a slice by :func:`build` (unknown keys refused); their defaults equal the
schema's (tests/test_config.py keeps them from drifting apart).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import typing
from pathlib import Path
from typing import Any, Iterable, Mapping, TypeVar

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value breaks the schema; the message names the key."""


def _with_defaults(cls):
    validate_props = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
                elif sub.get("type") == "object" and name not in instance and "properties" in sub:
                    instance[name] = {}
        yield from validate_props(validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft7Validator)


def load_schema(path: str | Path | None = None) -> dict:
    with open(path or SCHEMA_PATH) as fh:
        return yaml.safe_load(fh)


def validate_config(config: Mapping[str, Any], schema: Mapping | str | Path | None = None) -> dict:
    """Return a copy of ``config`` with defaults filled in, or raise ConfigError naming the key."""
    if not isinstance(schema, Mapping):
        schema = load_schema(schema)
    if not isinstance(config, Mapping):
        raise ConfigError(f"config must be a mapping of keys to values, got {type(config).__name__}")
    cfg = copy.deepcopy(dict(config))
    errors = sorted(_Validator(schema).iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for e in errors[:10]:
            key = ".".join(str(p) for p in e.absolute_path) or "<top level>"
            lines.append(f"config key '{key}': {e.message}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
    _check_ranges(cfg, schema)
    return cfg


def _check_ranges(cfg: dict, schema: Mapping) -> None:
    """Constraints JSON schema cannot express: [low, high] pairs must be ordered -- arrays the
    schema fixes at two items, and any pair of numbers in free-form parts (generator overrides)."""
    def walk(node, sub, path):
        free = not isinstance(sub, Mapping)
        sub = {} if free else sub
        if isinstance(node, dict):
            props = sub.get("properties", {})
            for k, v in node.items():
                walk(v, props.get(k) if props else None, path + [k])
        elif isinstance(node, list):
            if ((free or sub.get("minItems") == sub.get("maxItems") == 2) and len(node) == 2
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in node)
                    and node[0] > node[1]):
                raise ConfigError(f"invalid configuration:\n  config key '{'.'.join(path)}': "
                                  f"range {node} has low > high")
            for i, item in enumerate(node):
                walk(item, sub.get("items", {}) if not free else None, path + [str(i)])
    walk(cfg, schema, [])


def derive_seed(base: int, *names: Any) -> int:
    """A stable 63-bit seed for one stage/shard from the config seed and its name parts."""
    text = "/".join([str(int(base))] + [str(n) for n in names])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


T = TypeVar("T")


def build(cls: type[T], mapping: Mapping[str, Any] | None = None, *, ignore: Iterable[str] = (),
          where: str | None = None) -> T:
    """The parameter dataclass ``cls`` from a config mapping.

    Every key must name a field: an unknown key is a ConfigError naming it (and ``where`` the
    mapping came from), never silently dropped; keys the caller knows belong to someone else are
    listed in ``ignore``.  Lists become tuples for tuple-typed fields, nested mappings become
    nested dataclasses; missing keys take the field's default."""
    where = where or cls.__name__
    mapping = dict(mapping or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields) - set(ignore))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                          f"known: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _convert(hints[name], value, f"{where}.{name}")
              for name, value in mapping.items() if name in fields}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _convert(hint, value, where: str):
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return build(hint, value, where=where)
    if typing.get_origin(hint) is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return tuple(_convert(inner, v, where) for v in value)
    return value


def schema_defaults(*path: str) -> dict:
    """The defaults the schema gives the config section at ``path`` (e.g. "pixel2d", "model")."""
    node = validate_config({})
    for key in path:
        node = node[key]
    return node

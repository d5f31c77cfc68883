"""Layered settings (DESIGN.md "Run contract"): Config defaults < :quick < --config FILE < --corpus
< --set key=value. Configs are frozen dataclasses, possibly nested; YAML files hold plain values only.
"""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import yaml


def to_dict(cfg) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def _coerce(value, typ, key: str):
    origin = typing.get_origin(typ)
    if dataclasses.is_dataclass(typ):
        if isinstance(value, bool) and "enabled" in {f.name for f in dataclasses.fields(typ)}:
            value = {"enabled": value}                   # `analysis: false` turns it off
        if not isinstance(value, dict):
            raise ValueError(f"setting {key!r}: expected a mapping, got {value!r}")
        return override(typ(), value, prefix=f"{key}.")
    if origin is tuple:
        if value is None:
            raise ValueError(f"setting {key!r}: give a list, e.g. [a, b] (or [] for none)")
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif not isinstance(value, (list, tuple)):
            value = [value]                              # --set svm_grid=0.1 means [0.1]
        item = (typing.get_args(typ) or (None,))[0]
        return tuple(_coerce(v, item, key) if item in (int, float, str) else v for v in value)
    if typ is float and isinstance(value, str):
        try:
            value = float(value)                         # YAML 1.1 reads 1e-3 as a string
        except ValueError:
            pass
    if typ is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if typ is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if typ in (int, float, str, bool) and not isinstance(value, typ):
        raise ValueError(f"setting {key!r}: {value!r} is not a {typ.__name__}")
    return value


def override(cfg, values: dict[str, Any], prefix: str = ""):
    """A copy of the frozen dataclass `cfg` with `values` (nested dicts or dotted keys) applied."""
    hints = typing.get_type_hints(type(cfg))
    nested: dict[str, dict] = {}
    flat: dict[str, Any] = {}
    for key, value in values.items():
        head, _, tail = key.partition(".")
        if head not in hints:
            known = ", ".join(prefix + n for n in hints)
            raise ValueError(f"unknown setting {prefix + head!r}; known: {known}")
        if tail:
            nested.setdefault(head, {})[tail] = value
        elif dataclasses.is_dataclass(hints[head]) and isinstance(value, dict):
            nested.setdefault(head, {}).update(value)
        else:
            typ = hints[head]
            if typing.get_origin(typ) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
                args = [a for a in typing.get_args(typ) if a is not type(None)]
                typ = args[0] if value is not None else type(None)
            flat[head] = value if typ is type(None) else _coerce(value, typ, prefix + head)
    for head, sub in nested.items():
        flat[head] = override(getattr(cfg, head), sub, prefix=f"{prefix}{head}.")
    return dataclasses.replace(cfg, **flat)


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ValueError(f"{path}: config file not found") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config must be a mapping of settings")
    return data


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``["train.l2=0.01", "tasks=[valence3]"]`` -> {"train.l2": 0.01, ...} (values parsed as YAML)."""
    out = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected key=value")
        out[key.strip()] = yaml.safe_load(val) if val.strip() else ""
    return out


def check(name: str, value, *, choices=None, positive: bool = False, at_least=None, at_most=None,
          below=None) -> None:
    """Validate one setting where its Config declares it; one line naming the setting if not.

    ``check("train.l2", -5, at_least=0)`` -> ValueError("setting 'train.l2': -5 must be >= 0").
    """
    if choices is not None:
        if value not in choices:
            raise ValueError(f"setting {name!r}: {value!r} is not one of {', '.join(map(str, choices))}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"setting {name!r}: {value!r} is not a number")
    if value != value:
        raise ValueError(f"setting {name!r}: NaN is not allowed")
    if positive and not value > 0:
        raise ValueError(f"setting {name!r}: {value!r} must be > 0")
    if at_least is not None and not value >= at_least:
        raise ValueError(f"setting {name!r}: {value!r} must be >= {at_least}")
    if at_most is not None and not value <= at_most:
        raise ValueError(f"setting {name!r}: {value!r} must be <= {at_most}")
    if below is not None and not value < below:
        raise ValueError(f"setting {name!r}: {value!r} must be < {below}")


def plain(value):
    """Tuples to lists, recursively: what YAML and JSON files hold."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def to_yaml(cfg, header: str = "") -> str:
    """The resolved settings as YAML (what `emojax config` prints and configs/*.yaml hold)."""
    text = yaml.safe_dump(plain(to_dict(cfg)), sort_keys=False, allow_unicode=True)
    head = "".join(f"# {line}\n" for line in header.splitlines())
    return head + text

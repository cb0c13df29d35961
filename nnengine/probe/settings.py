"""Reading a probe's settings from JSON: each setting is a field of a frozen dataclass, with its limits
(``LIMITS``: field -> (lo, hi)) and choices (``CHOICES``: field -> allowed strings) as class attributes.
A bad value is refused with a message naming the field, the value and what is allowed."""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Any


class SettingsError(ValueError):
    """Bad probe settings; ``errors`` lists ``{"field", "message"}`` as ``ConfigError`` does."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class SettingsReader:
    """Reads the settings dataclass ``cls`` from a JSON object; keys it does not know are left to the caller."""

    def __init__(self, cls):
        self.cls = cls
        self.limits = getattr(cls, "LIMITS", {})
        self.choices = getattr(cls, "CHOICES", {})

    def names(self) -> list[str]:
        return [f.name for f in fields(self.cls)]

    def read(self, settings: dict, prefix: str = ""):
        """An instance of ``cls``; raises ``SettingsError`` listing every field at fault."""
        if not isinstance(settings, dict):
            raise SettingsError([{"field": prefix.rstrip(".") or "settings", "message": "must be a JSON object"}])
        values, errors = {}, []
        for f in fields(self.cls):
            if f.name not in settings or settings[f.name] is None:
                continue
            value, name = settings[f.name], prefix + f.name
            message = self._check(f, value)
            if message:
                errors.append({"field": name, "message": f"{message}, got {value!r}"[:300]})
            else:
                values[f.name] = int(value) if f.type == "int" else float(value) if f.type == "float" else value
        if errors:
            raise SettingsError(errors)
        return self.cls(**values)

    def _check(self, f, value) -> str | None:
        if f.name in self.choices:
            allowed = self.choices[f.name]
            if value not in allowed:
                return f"must be one of {', '.join(map(repr, allowed))}"
            return None
        if f.type == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if f.type not in ("int", "float"):
            return None
        lo, hi = self.limits.get(f.name, (-math.inf, math.inf))
        whole = f.type == "int"
        if not _number(value) or (whole and not float(value).is_integer()):
            return f"must be {'a whole number' if whole else 'a number'} from {lo:g} to {hi:g}"
        if not lo <= value <= hi:
            return f"must be from {lo:g} to {hi:g}"
        return None

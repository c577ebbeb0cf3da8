"""A service contract as data, and JSON Schema validation of values against it (with `jsonschema`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import jsonschema
from jsonschema import Draft202012Validator

from .errors import NOTHING

#: At most this many issues are reported for one value.
MAX_ISSUES = 20

NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_-]*$"

# TypeBox writes `Type.Undefined()` as {"type": "undefined"}: the absent value (an empty body, no result)
_checker = Draft202012Validator.TYPE_CHECKER.redefine("undefined", lambda _c, v: v is NOTHING)
_Validator = jsonschema.validators.extend(Draft202012Validator, type_checker=_checker)


def _pointer(path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "/"


# ajv's words for a failed keyword, given the keyword's value in the schema
_MESSAGES: dict[str, Callable[[Any], str]] = {
    "maxLength": lambda v: f"must not have more than {v} characters",
    "minLength": lambda v: f"must not have fewer than {v} characters",
    "minimum": lambda v: f"must be >= {v}",
    "maximum": lambda v: f"must be <= {v}",
    "exclusiveMinimum": lambda v: f"must be > {v}",
    "exclusiveMaximum": lambda v: f"must be < {v}",
    "pattern": lambda v: f'must match pattern "{v}"',
    "maxItems": lambda v: f"must not have more than {v} items",
    "minItems": lambda v: f"must not have fewer than {v} items",
    "additionalProperties": lambda _: "must not have additional properties",
    "const": lambda _: "must be equal to constant",
    "enum": lambda _: "must be equal to one of the allowed values",
    "anyOf": lambda _: "must match a schema in anyOf",
}


def _message(e: jsonschema.ValidationError) -> str:
    """The issue in the words the TypeScript side uses (ajv's), where there is one."""
    v, kw = e.validator_value, e.validator
    if kw == "type":
        return f"must be {v if isinstance(v, str) else ','.join(v)}"
    if kw == "required":
        have = e.instance if isinstance(e.instance, dict) else {}
        return f"must have required properties {', '.join(k for k in v if k not in have)}"
    say = _MESSAGES.get(str(kw))
    return say(v) if say is not None else e.message


class Schema:
    """A compiled JSON Schema: `issues(value)` lists what is wrong with a value, [] when it passes."""

    def __init__(self, schema: Mapping[str, Any] | bool) -> None:
        self.schema = schema
        self._v = _Validator(schema)

    def issues(self, value: Any) -> list[dict[str, str]]:
        out = []
        for e in self._v.iter_errors(value):
            out.append({"path": _pointer(e.absolute_path), "message": _message(e)})
            if len(out) >= MAX_ISSUES:
                break
        return out

    def check(self, value: Any) -> bool:
        return self._v.is_valid(value)


def describe_issues(issues: list[dict[str, str]]) -> str:
    return "; ".join(f"{i['path']} {i['message']}" for i in issues)


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    data: Any = None  # JSON Schema of the error's data, or None
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.data is not None:
            out["data"] = self.data
        if self.description is not None:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class MethodSpec:
    input: Any
    output: Any
    errors: dict[str, ErrorSpec] = field(default_factory=dict)
    idempotent: bool = False
    description: str = ""
    #: switchboard.schema_hash as the TypeScript side computes it, when known
    schema_hash: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_input", Schema(self.input))
        object.__setattr__(self, "_output", Schema(self.output))
        object.__setattr__(self, "_errors", {c: Schema(e.data) for c, e in self.errors.items() if e.data is not None})

    def input_issues(self, value: Any) -> list[dict[str, str]]:
        return self._input.issues(value)  # type: ignore[attr-defined]

    def output_issues(self, value: Any) -> list[dict[str, str]]:
        return self._output.issues(value)  # type: ignore[attr-defined]

    def error_data_ok(self, code: str, data: Any) -> bool:
        s = self._errors.get(code)  # type: ignore[attr-defined]
        return s is None or s.check(data)

    def metadata(self) -> dict[str, str]:
        """The endpoint metadata of $SRV.INFO (src/ops/micro.ts)."""
        md = {
            "switchboard.input_schema": json.dumps(self.input, separators=(",", ":")),
            "switchboard.output_schema": json.dumps(self.output, separators=(",", ":")),
            "switchboard.errors": json.dumps({c: e.to_json() for c, e in self.errors.items()}, separators=(",", ":")),
            "switchboard.idempotent": "true" if self.idempotent else "false",
            "switchboard.description": self.description,
        }
        if self.schema_hash is not None:
            md["switchboard.schema_hash"] = self.schema_hash
        return md


def _method_from_dict(d: Mapping[str, Any]) -> MethodSpec:
    errors = {
        code: ErrorSpec(status=int(e["status"]), data=e.get("data"), description=e.get("description"))
        for code, e in (d.get("errors") or {}).items()
    }
    return MethodSpec(
        input=d.get("input", {}),
        output=d.get("output", {}),
        errors=errors,
        idempotent=bool(d.get("idempotent", False)),
        description=d.get("description") or "",
        schema_hash=d.get("schema_hash"),
    )


@dataclass(frozen=True)
class Contract:
    """A service: its name, version, description and methods (each with its JSON Schemas and declared errors)."""

    name: str
    version: str
    methods: dict[str, MethodSpec]
    description: str = ""
    #: switchboard.contract_hash as the TypeScript side computes it; a hash of our own when not given
    contract_hash: str | None = None

    @property
    def hash(self) -> str:
        if self.contract_hash is not None:
            return self.contract_hash
        canon = json.dumps(
            [self.name, {m: {"input": s.input, "output": s.output, "errors": {c: e.to_json() for c, e in s.errors.items()},
                             "idempotent": s.idempotent, "description": s.description} for m, s in self.methods.items()}],
            sort_keys=True, separators=(",", ":"),
        )
        return hashlib.sha256(canon.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Contract":
        """From `{name, version, description?, contract_hash?, methods: {name: {input, output, errors?, idempotent?, description?}}}`."""
        return cls(
            name=d["name"],
            version=d["version"],
            description=d.get("description") or "",
            methods={m: _method_from_dict(s) for m, s in d["methods"].items()},
            contract_hash=d.get("contract_hash"),
        )

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> "Contract":
        """From a worker's `$SRV.INFO` reply: the schemas it publishes in its endpoint metadata."""
        methods = {}
        for ep in info.get("endpoints") or []:
            md = ep.get("metadata") or {}
            methods[ep["name"]] = _method_from_dict({
                "input": json.loads(md.get("switchboard.input_schema", "{}")),
                "output": json.loads(md.get("switchboard.output_schema", "{}")),
                "errors": json.loads(md.get("switchboard.errors", "{}")),
                "idempotent": md.get("switchboard.idempotent") == "true",
                "description": md.get("switchboard.description", ""),
                "schema_hash": md.get("switchboard.schema_hash"),
            })
        meta = info.get("metadata") or {}
        return cls(
            name=info["name"],
            version=info["version"],
            description=info.get("description") or "",
            methods=methods,
            contract_hash=meta.get("switchboard.contract_hash"),
        )

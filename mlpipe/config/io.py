"""Reading dataset configs, from a YAML file or a run's `config` parameter, and checking their
locations: one-line errors naming the key, paths resolved against the file, `base:` overlays,
and the refusal of what a cluster pod cannot read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlpipe.config.dataset import (
    DatasetConfig,
    EvaluationConfig,
    FairnessGate,
    RegistryConfig,
    _Inconsistent,
)
from mlpipe.errors import UserInputError


def _key(loc: tuple) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part:
            key = f"{key}.{part}" if key else str(part)
    return key


def _known_keys(loc: tuple) -> str:
    """The keys allowed where an unknown one was found, for the error message."""
    model: Any = DatasetConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif isinstance(part, int) and model is EvaluationConfig:
            model = FairnessGate
        elif field is not None and model is EvaluationConfig and part == "fairness_gates":
            model = EvaluationConfig
        else:
            return ""
    return ", ".join(sorted(model.model_fields))


def _message(error: dict, source: str) -> str:
    loc = tuple(p for p in error["loc"] if p != "__root__")
    key = _key(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _known_keys(loc)
        return f"{source}: unknown config key '{key}'" + (f" (known keys here: {known})" if known else "")
    if kind == "missing":
        return f"{source}: config key '{key}' is required"
    if kind == "value_error" and isinstance(error.get("ctx", {}).get("error"), _Inconsistent):
        inner = error["ctx"]["error"]
        return f"{source}: config key '{inner.key}': {inner}"
    if kind == "string_pattern_mismatch":
        return (
            f"{source}: config key '{key}' must be lower-case letters, digits, '-' or '_' "
            f"(a path and Kubernetes name), got {error['input']!r}"
        )
    message = error["msg"][0].lower() + error["msg"][1:]
    return f"{source}: config key '{key}': {message}, got {error['input']!r}"


def config_from_dict(raw: Any, source: str = "config") -> DatasetConfig:
    """Validate a mapping (a YAML file's content, or a run's config parameter)."""
    if not isinstance(raw, dict):
        raise UserInputError(f"{source} must hold a mapping of keys")
    try:
        return DatasetConfig.model_validate(_whole_numbers_as_int(raw))
    except ValidationError as exc:
        raise UserInputError(_message(exc.errors()[0], source)) from None


def _whole_numbers_as_int(value: Any) -> Any:
    """KFP passes a struct parameter's numbers as doubles (8 arrives as 8.0); every float field
    accepts an int, so whole floats become ints and int fields stay strict."""
    if isinstance(value, dict):
        return {k: _whole_numbers_as_int(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers_as_int(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _is_remote(location: str) -> bool:
    return location.startswith("s3://")


def _resolved(raw: dict, base_dir: Path) -> dict:
    """Relative local locations made absolute against the config file's folder."""

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value and not _is_remote(value):
            return str((base_dir / value).resolve())
        return value

    raw = dict(raw)
    if raw.get("base") is None and "registry" not in raw:
        raw["registry"] = {"uri": resolve(RegistryConfig().uri)}
    if isinstance(raw.get("data"), dict):
        raw["data"] = {k: resolve(v) for k, v in raw["data"].items()}
    if isinstance(raw.get("registry"), dict) and "uri" in raw["registry"]:
        raw["registry"] = {**raw["registry"], "uri": resolve(raw["registry"]["uri"])}
    if raw.get("schema_path"):
        raw["schema_path"] = resolve(raw["schema_path"])
    return raw


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """A config file's mapping, locations resolved; `base: other.yaml` is read first and this
    file's keys are merged over it (mappings key by key, anything else replaced)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        where = f" (base of {chain[-1]})" if chain else ""
        raise UserInputError(f"config file not found: {path}{where}") from None
    except OSError as exc:
        raise UserInputError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UserInputError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise UserInputError(f"config file {path} must hold a mapping of keys")
    raw = _resolved(raw, path.resolve().parent)
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise UserInputError(f"{path}: config key 'base' must be a file name, got {base!r}")
    base_path = (path.resolve().parent / base).resolve()
    if base_path in (*chain, path.resolve()):
        raise UserInputError(f"{path}: config key 'base' makes a cycle through {base_path}")
    return _merged(_read_yaml(base_path, (*chain, path.resolve())), raw)


def _merged(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        out[key] = (
            _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def load_config(path: str | Path, check_data: bool = True) -> DatasetConfig:
    """Load a dataset config file; locations resolve against its folder. With `check_data`,
    the header of each local data file is checked against the configured columns."""
    path = Path(path)
    config = config_from_dict(_read_yaml(path), str(path))
    if check_data:
        from mlpipe.data.csv_source import read_header  # local import: config stays light

        for location in (config.data.train, config.data.eval):
            if location and not _is_remote(location) and Path(location).exists():
                check_columns(config, read_header(location, config.csv), location, require_label=True)
    return config


def check_columns(
    config: DatasetConfig,
    header: list[str],
    source: str,
    require_label: bool,
    allow_missing_features: bool = False,
) -> None:
    """Fail naming the first column the config expects but the data lacks. With
    `allow_missing_features` (a batch to validate, where a missing feature is an anomaly
    reported with the others) only the label, when required, and one feature must be there."""
    present = set(header)
    expected = [] if allow_missing_features else [*config.feature_keys, *config.exclude]
    if allow_missing_features and not present & set(config.feature_keys):
        raise UserInputError(
            f"{source}: none of the features named in the config is in the data (columns: {', '.join(header)})"
        )
    if require_label:
        expected.insert(0, config.label_key)
    for column in expected:
        if column not in present:
            kind = "label column" if column == config.label_key else "column"
            raise UserInputError(
                f"{source}: {kind} '{column}' named in the config is not in the data "
                f"(columns: {', '.join(header)})"
            )


def with_overrides(
    config: DatasetConfig, train: str = "", eval: str = "", registry: str = ""
) -> DatasetConfig:
    """The config with data and registry locations replaced (empty keeps the config's)."""

    def location(value: str) -> str:
        return value if _is_remote(value) else str(Path(value).resolve())

    data = config.data.model_copy(
        update={
            "train": location(train) if train else config.data.train,
            "eval": location(eval) if eval else config.data.eval,
        }
    )
    update: dict[str, Any] = {"data": data}
    if registry:
        update["registry"] = RegistryConfig(uri=location(registry))
    return config.model_copy(update=update)


def check_for_cluster(config: DatasetConfig) -> None:
    """A pod has nothing of this machine: every location must be an object-store URI."""
    for key, value in (
        ("data.train", config.data.train),
        ("data.eval", config.data.eval),
        ("data.serving", config.data.serving),
        ("registry.uri", config.registry.uri),
    ):
        if value is None:
            continue
        if not value:
            raise UserInputError(f"config key '{key}' is empty: a cluster run needs an s3:// location")
        if not _is_remote(value):
            raise UserInputError(
                f"config key '{key}' is the local path {value}, which a cluster pod cannot read: "
                "upload it (`mlpipe upload`) and use its s3:// URI"
            )

"""`mlpipe` subcommands over the model registry and serving: upload, models, rollback, promote.

Thin shells like the rest of the CLI (mlpipe/cli/main.py builds the parser): the work is in
mlpipe/registry/local.py, rollout.py and serving_state.py.
"""

from __future__ import annotations

import argparse
import json
import os


def cmd_upload(args: argparse.Namespace) -> int:
    from mlpipe.storage.s3 import upload_files

    for uri in upload_files(args.files, args.destination, os.environ):
        print(f"uploaded {uri}")
    return 0


def _registry_for(config_path: str, registry: str | None):
    from mlpipe.config.io import load_config
    from mlpipe.registry.access import open_registry

    config = load_config(config_path, check_data=False)
    return config, open_registry(registry or config.registry.uri, os.environ)


def cmd_models(args: argparse.Namespace) -> int:
    config, registry = _registry_for(args.config, args.registry)
    serving = registry.serving_version(config.model_name)
    versions = registry.versions(config.model_name)
    if not versions:
        print(f"no published versions of {config.model_name}")
        return 0
    print(f"{'version':>7}  {'serving':<8}{'pushed_at':<22}{'auc':>8}  {'fingerprint':<14}run_id")
    for version in versions:
        meta = registry.metadata(config.model_name, version)
        auc = meta.get("overall_auc")
        print(
            f"{version:>7}  {'*' if version == serving else '':<8}{meta.get('pushed_at', ''):<22}"
            f"{auc if auc is None else round(auc, 4)!s:>8}  {str(meta.get('data_fingerprint', ''))[:12]:<14}"
            f"{meta.get('run_id', '')}"
        )
    target = args.target or config.serving.rollout_target
    if args.cluster and target != "none":
        from mlpipe.serving.live import read_serving_names
        from mlpipe.serving.state import describe, serving_state

        names = read_serving_names(config.serving.namespace)
        print(f"serving now: {describe(serving_state(target, names), serving)}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from mlpipe.serving.live import read_serving_names
    from mlpipe.serving.rollout import rollback

    config, registry = _registry_for(args.config, args.registry)
    target = args.target or config.serving.rollout_target
    result = rollback(
        registry,
        config.model_name,
        target,
        read_serving_names(config.serving.namespace) if target != "none" else None,
        to=args.to,
        wait=_wait(args, config),
    )
    print(
        f"serving {config.model_name} version {result['version']} (was {result['previous']}); "
        f"target: {json.dumps(result['serving'])}"
    )
    return 0


WAIT_HELP = (
    "seconds to wait for KServe to report ready (default: serving.rollout_timeout_seconds; 0: no wait)"
)


def _wait(args: argparse.Namespace, config) -> float:
    return config.serving.rollout_timeout_seconds if args.wait is None else args.wait


def cmd_promote(args: argparse.Namespace) -> int:
    from mlpipe.serving.live import read_serving_names
    from mlpipe.serving.rollout import promote

    config, registry = _registry_for(args.config, args.registry)
    target = args.target or config.serving.rollout_target
    names = read_serving_names(config.serving.namespace) if target in ("kserve", "shadow") else None
    result = promote(registry, config.model_name, target, names, wait=_wait(args, config))
    print(f"promoted {config.model_name} version {result['version']}: target {json.dumps(result['serving'])}")
    return 0

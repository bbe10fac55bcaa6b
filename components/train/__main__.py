"""The train entry point outside KFP: `python -m mlpipe.components.train ...`.

What every worker of a TFJob runs (the operator sets TF_CONFIG), and what the two-worker test
launches on 127.0.0.1. Inputs and the model may be local folders or `s3://` prefixes (a TFJob's
pods share no disk with the step that launched them): inputs are downloaded first, and the
chief uploads the model when training is done; the other workers upload nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path


def _local(location: str, scratch: Path, name: str) -> Path:
    if not location.startswith("s3://"):
        return Path(location)
    from mlpipe.components.train.staging import download_tree

    download_tree(location, scratch / name)
    return scratch / name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlpipe.components.train", description=__doc__)
    parser.add_argument("--config-json", required=True, help="the run's config mapping (JSON)")
    parser.add_argument("--examples", required=True, help="examples folder or s3:// prefix")
    parser.add_argument("--schema", required=True, help="schema folder/file or s3:// prefix")
    parser.add_argument("--hyperparameters", default="", help="tune's JSON folder or s3:// prefix")
    parser.add_argument("--model", required=True, help="model folder (chief) or s3:// prefix")
    parser.add_argument("--tensorboard", default="", help="TensorBoard folder (default: inside --model)")
    parser.add_argument("--fingerprint", default="")
    args = parser.parse_args(argv)

    from mlpipe.components.train.core import train
    from mlpipe.components.train.multiworker import role_from
    from mlpipe.config.io import config_from_dict
    from mlpipe.data.artifacts import load_schema, read_hyperparameters
    from mlpipe.errors import UserInputError
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    tf_config = os.environ.get("TF_CONFIG")
    try:
        config = config_from_dict(json.loads(args.config_json), "--config-json")
        with tempfile.TemporaryDirectory(prefix="mlpipe-train-") as tmp:
            scratch = Path(tmp)
            examples = _local(args.examples, scratch, "examples")
            schema = load_schema(_local(args.schema, scratch, "schema"))
            defaults = config.training.hyperparameters
            hyperparameters = defaults
            if args.hyperparameters:
                folder = _local(args.hyperparameters, scratch, "hyperparameters")
                files = [folder] if folder.is_file() else sorted(folder.glob("*"))
                hyperparameters = read_hyperparameters(files[0], defaults)
            remote = args.model.startswith("s3://")
            model_dir = scratch / "model" if remote else Path(args.model)
            tensorboard = args.tensorboard or f"{args.model.rstrip('/')}-tensorboard"
            tensorboard_dir = (
                scratch / "tensorboard" if tensorboard.startswith("s3://") else Path(tensorboard)
            )
            result = train(
                config,
                examples,
                schema,
                model_dir,
                tensorboard_dir,
                hyperparameters,
                args.fingerprint,
                tf_config,
            )
            if role_from(tf_config).is_chief:
                from mlpipe.components.train.staging import upload_tree

                if tensorboard.startswith("s3://"):
                    upload_tree(tensorboard_dir, tensorboard)
                if remote:  # last: the model's presence is what the launcher downloads
                    upload_tree(model_dir, args.model)
    except (UserInputError, json.JSONDecodeError) as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"metrics": result.metrics, "epochs_run": result.epochs_run}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

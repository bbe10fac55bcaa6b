"""The kserve-python runtime's request and response shapes (mlpipe/serving/tensor_io.py) on a real
SavedModel, as TF Serving's REST API has them, and its choice of version folder. The server itself
runs in the serve image: tests/cluster/test_serving_pods.py sends it requests in real pods."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from serving_model import tiny_saved_model

from mlpipe.serving.server import latest_version
from mlpipe.serving.tensor_io import batch_inputs, predictions

SAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "manifests/samples/predict_request.json").read_text()
)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import tensorflow as tf

    folder = tiny_saved_model(tmp_path_factory.mktemp("model") / "3", 0.5)
    return tf.saved_model.load(str(folder))


def _call(model, payload):
    signature = model.signatures[payload.get("signature_name", "serving_default")]
    outputs = signature(**batch_inputs(signature.structured_input_signature[1], payload))
    return predictions({k: v.numpy() for k, v in outputs.items()}, payload)


def test_rows_in_predictions_out_as_tf_serving_answers(model):
    answer = _call(model, SAMPLE)  # the sample request users send (extra features are ignored)
    assert answer == {"predictions": [[pytest.approx(0.5 * 39 / 100)]]}
    two = {"signature_name": "serving_raw", "instances": [{"age": 10, "sex": "a"}, {"age": 20, "sex": "b"}]}
    assert np.allclose(_call(model, two)["predictions"], [[0.05], [0.1]])


def test_columns_in_outputs_out_and_a_single_input_takes_bare_values(model):
    columns = {"signature_name": "serving_raw", "inputs": {"age": [10, 20], "sex": ["a", "b"]}}
    assert np.allclose(_call(model, columns)["outputs"], [[0.05], [0.1]])
    assert _call(model, {"instances": ["x", "y"]}) == {"predictions": [0.5, 0.5]}  # serving_default


@pytest.mark.parametrize(
    "payload, named",
    [
        ({"signature_name": "serving_raw", "instances": [{"age": 1}]}, "missing: ['sex']"),
        ({"signature_name": "serving_raw", "inputs": {"age": [1]}}, "missing: ['sex']"),
        ({"signature_name": "serving_raw", "instances": []}, "non-empty list"),
        ({"signature_name": "serving_raw"}, "'instances' (rows) or 'inputs' (columns)"),
        ({"signature_name": "serving_raw", "instances": [{"age": "old", "sex": "a"}]}, "input 'age'"),
    ],
)
def test_a_bad_request_is_one_error_naming_what_is_wrong(model, payload, named):
    signature = model.signatures[payload["signature_name"]]
    with pytest.raises(ValueError) as error:
        batch_inputs(signature.structured_input_signature[1], payload)
    assert named in str(error.value)


def test_several_outputs_answer_one_dict_per_row_and_text_as_text():
    outputs = {"score": np.array([0.1, 0.2]), "label": np.array([b"yes", b"no"], dtype=object)}
    assert predictions(outputs, {"instances": [{}, {}]}) == {
        "predictions": [{"score": 0.1, "label": "yes"}, {"score": 0.2, "label": "no"}]
    }


def test_the_highest_numbered_folder_is_served_and_none_is_a_clear_error(tmp_path):
    for name in ("1", "10", "2", "notes"):
        (tmp_path / name).mkdir()
    assert latest_version(tmp_path) == (10, tmp_path / "10")
    with pytest.raises(FileNotFoundError, match=r"no model version under .*empty.*numbered folders"):
        (tmp_path / "empty").mkdir()
        latest_version(tmp_path / "empty")

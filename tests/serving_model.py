"""A small real SavedModel for serving tests: the signatures our trained models have
(`serving_raw` over raw feature columns, `serving_default`), and an answer that depends on the
version, so a test can tell which version served a request."""

from __future__ import annotations

from pathlib import Path


def tiny_saved_model(folder: Path, score: float) -> Path:
    """Write a SavedModel to `folder` whose `probabilities` are `score` scaled by age/100."""
    import tensorflow as tf

    class Tiny(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 1], tf.float32, name="age"),
                tf.TensorSpec([None, 1], tf.string, name="sex"),
            ]
        )
        def serving_raw(self, age, sex):
            del sex
            return {"probabilities": tf.constant(score, tf.float32) * age / 100.0}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serving_default(self, examples):
            return {"probabilities": tf.fill(tf.shape(examples), tf.constant(score, tf.float32))}

    module = Tiny()
    tf.saved_model.save(
        module,
        str(folder),
        signatures={"serving_raw": module.serving_raw, "serving_default": module.serving_default},
    )
    return folder

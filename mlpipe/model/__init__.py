"""The Keras model tune and train share (`keras_model`): preprocessing in the graph, the DNN, the
tf.Example spec. Imports `mlpipe.config`, `mlpipe.data`, `mlpipe.runtime`; no stage, no kfp."""

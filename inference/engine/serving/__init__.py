"""Serving: trained models as thread-safe predictors, whatever runs their forward pass.

* ``predictor``: the base ``Predictor`` (texts in, the API's answers out);
* ``torch_predictor`` and ``onnx_predictor``: the two backends, and ``sessions`` for onnxruntime
  (the int8 thread choice, the row pool);
* ``shared``: the process-wide base models every ``head`` and LoRA version shares;
* ``loading``: an artifact to a predictor, one loader per (runtime, method);
* ``runtime_choice``: at the end of training, which runtime will serve the new version.
"""

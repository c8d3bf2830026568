"""The Open Inference Protocol (v2): routes, the tensor codec, and tensors run on a predictor."""

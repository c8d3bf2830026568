"""The model side: bundles, their compiled models, the batcher, predictors, and the registry."""

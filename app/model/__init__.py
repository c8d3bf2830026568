"""The model side: bundles, their runtimes, the batcher, predictors, served models, the registry."""

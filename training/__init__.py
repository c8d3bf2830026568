"""Builds the data for, trains and evaluates the reference ``digits`` bundle."""

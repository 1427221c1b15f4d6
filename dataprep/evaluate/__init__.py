"""Scores for judging a stage's output against hand-made gold data."""

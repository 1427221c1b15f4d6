"""The pipeline runner: ``dataprep run pipeline.yml``."""

"""Extractors: turn raw files (CSV, HTML, SQL dumps) into records."""

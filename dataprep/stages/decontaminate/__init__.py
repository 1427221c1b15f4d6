"""Dropping records that share a long word n-gram with an eval set."""

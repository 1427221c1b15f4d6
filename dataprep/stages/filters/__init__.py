"""Filters: stages that drop or clean records by what they say."""

"""dataprep: turn raw material into a clean, diverse, tokenized fine-tuning dataset."""

__version__ = "0.1.0"

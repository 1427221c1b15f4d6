"""Privacy and language: PII detection and redaction (``redact-pii``), column policies for table
sources, and language identification (``filter-language``)."""

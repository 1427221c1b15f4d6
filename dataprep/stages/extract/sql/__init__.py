"""``extract-sql``: records from SQL dumps, streamed, without a database server.

- :mod:`.dialects` says how MySQL, PostgreSQL, SQLite and SQL Server dumps quote, comment and
  separate statements, and guesses which one a dump is.
- :mod:`.lines` decodes a dump (plain or ``.gz``) line by line.
- :mod:`.statements` splits the line stream into statements and rows: a fast path for
  ``INSERT ... VALUES`` and ``COPY ... FROM stdin``, sqlparse for compound statements.
- :mod:`.values` parses SQL literals (quotes, escapes, blobs, ``N''``, casts).
- :mod:`.schema` reads ``CREATE TABLE`` column lists with sqlparse's tokenizer.
- :mod:`.names` unquotes identifiers (`name`, "name", [name], schema.name).
- :mod:`.dump` ties them together: tables, row numbers, problems with their line numbers.
- :mod:`.listing` formats ``--list-tables``.
- :mod:`.engine` is the ``--query`` mode: a temporary SQLite database behind an authorizer.
- :mod:`.stage` is the stage itself.
"""

"""Tokenization helpers behind the ``tokenize`` stage and ``dataprep show-tokens``.

- :mod:`~dataprep.tokens.tokenizer`: load a tokenizer, find its BOS/EOS behaviour, hash it.
- :mod:`~dataprep.tokens.chat`: which characters of a rendered chat are the assistant's.
- :mod:`~dataprep.tokens.examples`: records to token ids and loss masks, per format.
- :mod:`~dataprep.tokens.verify`: check examples against the inference rendering, by mismatch kind.
- :mod:`~dataprep.tokens.packing`: several examples per sequence, with per-example positions.
- :mod:`~dataprep.tokens.arrow`: stream sequences into a ``datasets.save_to_disk`` folder.
- :mod:`~dataprep.tokens.show`: print sequences with trained and masked tokens coloured.
"""

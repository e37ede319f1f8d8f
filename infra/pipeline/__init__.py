"""The pipeline, in one room: the table (``table.py``), the stream names (``streams.py``), and one
adapter module per stage (``enrich.py``, ``score.py``, ``label.py``: its input codec and ``build``).

Adding a stream function: the pure function in ``functions/``, an adapter module here, a row in
``table.py`` (see the README, "Streams runtime").
"""

"""JSON schemas of the files an analysis writes (``events.csv`` rows, ``summary.json``)."""

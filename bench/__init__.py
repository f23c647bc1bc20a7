"""``make bench``: how fast ``!catfact`` answers, measured through the real bot.

Run it with ``make bench`` (or ``.venv/bin/python -m bench --help`` for the knobs). It is not a
test: it prints numbers and a verdict per target, and saves a latency plot.
"""

"""Benchmarks: each figure measured against a baseline in the same run (`webapp bench`).

It lives inside the package (not a top-level bench/ folder) so the installed `webapp bench`
command can run it.
"""

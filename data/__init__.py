"""Lagebild's data layer: contracts, data folders, the demo city and the data CLI.

Plain Python: never imports streamlit.
"""

"""Geometry, cells and spatial analytics. Plain Python: never imports streamlit."""

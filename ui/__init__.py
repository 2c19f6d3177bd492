"""The Streamlit layer: shared chrome and cached loaders at the page edge.

Only this package and ``pages/`` import streamlit; computation lives in data/, geo/, viz/.
"""

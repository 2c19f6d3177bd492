"""Charts, map builders' shared texts and formats. Plain Python: never imports streamlit."""

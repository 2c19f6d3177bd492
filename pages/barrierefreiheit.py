"""Barrierefreiheit: the Erklärung zur Barrierefreiheit (accessibility statement), German and English.

Needs no data: it stays readable when the data cannot be loaded. Linked from every page
(sidebar; on the Präsentation page in its bar).
"""

import os

import streamlit as st

from ui import chrome
from viz import statement

lang = chrome.plain_page()
try:
    secrets = st.secrets.get("lagebild", {}).get("accessibility", {})
except Exception:  # no secrets file: the environment or the defaults
    secrets = {}
try:
    config = statement.config_from(os.environ, secrets)
except ValueError as exc:
    st.error(str(exc))
    config = statement.StatementConfig()

st.title(statement.title(lang))
for heading, text in statement.sections(config, lang):
    if heading:
        st.header(heading)
    st.markdown(text)

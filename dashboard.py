"""Lagebild: entry point (`streamlit run dashboard.py`).

Pages share one chrome (language, data source, filters with URL state), drawn by
`ui.chrome.page()` at the top of every page. The default page is the Übersicht.
A replica may limit how many runs execute at once (`LAGEBILD_MAX_RUNS`, ui/admission.py).
"""

import contextlib

import streamlit as st

from ui import admission, chrome

_SEEN = "_lagebild_session_ran"  # set once a run of this session on this process has finished
first = _SEEN not in st.session_state
with admission.first_slots().slot() if first else contextlib.nullcontext(), admission.slots().slot():
    chrome.main()
st.session_state[_SEEN] = True

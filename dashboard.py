"""Lagebild: entry point (`streamlit run dashboard.py`).

Pages share one chrome (language, data source, filters with URL state), drawn by
`ui.chrome.page()` at the top of every page. The default page is the Übersicht.
A replica may limit how many runs execute at once (`LAGEBILD_MAX_RUNS`, ui/admission.py).
"""

from ui import admission, chrome

with admission.slots().slot():
    chrome.main()

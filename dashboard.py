"""Lagebild: entry point (`streamlit run dashboard.py`).

Pages share one chrome (language, data source, filters with URL state), drawn by
`ui.chrome.page()` at the top of every page. The default page is the Übersicht.
"""

from ui import chrome

chrome.main()

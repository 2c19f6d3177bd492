"""A simulated browser session speaking Streamlit's own WebSocket protocol.

What the Streamlit frontend does, reduced to what a load test needs: ``GET /`` (keeps
cookies, e.g. nginx's affinity cookie), a WebSocket on ``/_stcore/stream`` with subprotocol
``streamlit``, a ``BackMsg.rerun_script`` carrying the URL's query string, the page and the
widget values the user changed, then ``ForwardMsg``s until ``script_finished``. The
session keeps the query string the app writes (``page_info_changed``), like the browser's
address bar, so a reconnect after a failover reopens the same view.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect

FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
WIDGET_TYPES = ("multiselect", "selectbox", "slider", "radio", "checkbox", "toggle", "button",
                "text_input", "number_input")


class SessionError(RuntimeError):
    """The run failed: an exception shown by the app, a compile error, a lost connection."""


@dataclass
class Run:
    seconds: float
    widgets: dict[str, object]  # user key -> widget proto of this run
    texts: list[str]  # markdown, captions, metrics (label: value), alerts, titles
    exceptions: list[str]
    query: str
    page_hash: str
    page: str  # url path of the page that ran ("" = the default page)


@dataclass
class Session:
    base: str  # http://host:port
    page: str = ""  # url path of the page, "" = the main page (Übersicht)
    query: str = ""
    timeout: float = 60.0
    page_hash: str = ""
    cookies: dict[str, str] = field(default_factory=dict)
    session_id: str = ""
    widgets: dict[str, object] = field(default_factory=dict)  # key -> widget proto (last run)
    received: int = 0  # bytes of ForwardMsgs received (all runs of this session)
    messages: int = 0  # ForwardMsgs received
    _ws: object = None
    _states: dict[str, WidgetState] = field(default_factory=dict)

    async def open(self) -> Run:
        """Load the page (HTTP), connect the WebSocket and run the script once."""
        async with httpx.AsyncClient(timeout=self.timeout, cookies=self.cookies) as http:
            r = await http.get(f"{self.base}/{self.page}" + (f"?{self.query}" if self.query else ""))
            r.raise_for_status()
            for name, value in r.cookies.items():
                self.cookies[name] = value
        ws_url = self.base.replace("http", "ws", 1) + "/_stcore/stream"
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        self._ws = await connect(ws_url, subprotocols=["streamlit"], additional_headers=headers,
                                 max_size=None, open_timeout=self.timeout, ping_interval=None)
        self._states = {}
        return await self.rerun()

    async def close(self) -> None:
        if self._ws is not None:
            try:
                await self._ws.close()
            finally:
                self._ws = None

    def set_widget(self, key: str, **value: object) -> None:
        """Set the value of the widget with user key ``key`` as shown in the last run, as the
        frontend would (e.g. ``string_array_value=[...]``); sent with the next rerun."""
        widget_id = self.widgets[key].id
        state = WidgetState(id=widget_id)
        for key, v in value.items():
            if key in ("string_array_value", "double_array_value", "int_array_value"):
                getattr(state, key).data.extend(v)
            else:
                setattr(state, key, v)
        self._states[widget_id] = state

    async def rerun(self) -> Run:
        """Send a rerun with the known widget values; read until the script finished."""
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        cs.page_script_hash = self.page_hash
        cs.page_name = self.page
        cs.widget_states.widgets.extend(self._states.values())
        started = time.perf_counter()
        await self._ws.send(msg.SerializeToString())
        widgets: dict[str, object] = {}
        texts: list[str] = []
        exceptions: list[str] = []
        ran_page = ""
        while True:
            try:
                data = await asyncio.wait_for(self._ws.recv(), self.timeout)
            except Exception as exc:  # closed connection, timeout
                raise SessionError(f"connection lost: {type(exc).__name__}: {exc}") from None
            self.received += len(data)
            self.messages += 1
            fm = ForwardMsg()
            fm.ParseFromString(data)
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                self.session_id = fm.new_session.initialize.session_id or self.session_id
                widgets, texts, exceptions = {}, [], []  # a new run (e.g. after st.rerun)
            elif kind == "navigation":
                # the page that runs (st.navigation): the browser sends its hash with the next
                # rerun. (new_session's page_script_hash is the entry script's: sent back, it
                # would run the default page, the Übersicht, instead of the page shown.)
                self.page_hash = fm.navigation.page_script_hash
                ran_page = next((p.url_pathname for p in fm.navigation.app_pages
                                 if p.page_script_hash == self.page_hash), "")
            elif kind == "page_info_changed":
                self.query = fm.page_info_changed.query_string
            elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                el = fm.delta.new_element
                et = el.WhichOneof("type")
                if et == "exception":
                    exceptions.append(f"{el.exception.type}: {el.exception.message}")
                elif et in WIDGET_TYPES:
                    proto = getattr(el, et)
                    wid = proto.id
                    key = wid.split("-", 2)[2] if wid.startswith("$$ID-") and wid.count("-") >= 2 else wid
                    widgets[key] = proto
                elif et == "markdown":
                    texts.append(el.markdown.body)
                elif et == "metric":
                    texts.append(f"{el.metric.label}: {el.metric.body}")
                elif et in ("alert",):
                    texts.append(el.alert.body)
                elif et == "heading":
                    texts.append(el.heading.body)
            elif kind == "script_finished":
                status = fm.script_finished
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue
                if status not in FINISHED:
                    raise SessionError(f"script finished with status {status}")
                # like the frontend: keep only the values of widgets that still exist
                alive = {w.id for w in widgets.values()}
                self._states = {i: st for i, st in self._states.items() if i in alive}
                self.widgets = widgets
                return Run(time.perf_counter() - started, widgets, texts, exceptions, self.query,
                           self.page_hash, ran_page)

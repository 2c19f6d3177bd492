"""A simulated browser session speaking Streamlit's own WebSocket protocol.

What the Streamlit frontend does, reduced to what a load test needs: ``GET /`` (keeps
cookies, e.g. nginx's affinity cookie), a WebSocket on ``/_stcore/stream`` with subprotocol
``streamlit``, a ``BackMsg.rerun_script`` carrying the URL's query string, the page and the
widget values the user changed, then ``ForwardMsg``s until ``script_finished``. The
session keeps the query string the app writes (``page_info_changed``), like the browser's
address bar, so a reconnect after a failover reopens the same view.

Like the frontend (streamlit/static, ``ForwardMessageCache``) a session keeps the large
messages the server marks ``cacheable`` and sends their hashes with every rerun; the server
then sends a reference instead of an element the browser already has (an unchanged map is
not sent again). Entries expire after ``max_cached_message_age`` successful runs without
use (the server's ``global.maxCachedMessageAge``, sent in ``new_session``). After a lost
connection, :meth:`Session.reconnect` waits and retries as the frontend's
``WebsocketConnection`` does (:func:`reconnect_delay`, :func:`ping_delay`).
"""

from __future__ import annotations

import asyncio
import random
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


def reconnect_delay(attempt: int, rng: random.Random) -> float:
    """Seconds the frontend waits before pinging the server again after its WebSocket closed,
    for reconnect ``attempt`` 1, 2, ... (``WebsocketConnection.nextReconnectDelayMs`` of
    Streamlit 1.67: the first in [0.25, 0.5) s, then in [cap/2, cap) with cap = 0.5 s * 2^(n-1)
    up to 4 s). The attempt count restarts once connected."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt!r}")
    cap = min(4000, 500 * 2 ** (attempt - 1))
    low = 250 if attempt == 1 else cap / 2
    return int(low + rng.random() * (cap - low)) / 1000


def ping_delay(retry: int, rng: random.Random) -> float:
    """Seconds between the frontend's failed health pings (``/_stcore/health`` and
    ``/_stcore/host-config``), retry 1, 2, ...: 0.1 s, then 0.1 s * 2^(n-1) up to 4 s,
    jittered to 70-100 % (Streamlit 1.67's ``doInitPings``)."""
    if retry < 1:
        raise ValueError(f"retry counts from 1, got {retry!r}")
    delay = min(4000, 100 if retry == 1 else 100 * 2 ** (retry - 1))
    return (delay if retry == 1 else int(delay * (0.7 + rng.random() * 0.3))) / 1000


@dataclass
class MessageCache:
    """The frontend's cache of large ForwardMsgs (``ForwardMessageCache``): what it holds is
    announced with every rerun (``cached_message_hashes``) and sent back as references."""

    max_age: int = 2  # replaced by the server's value from new_session
    runs: int = 0
    entries: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # hash -> (msg, last run used)
    hits: int = 0
    saved: int = 0  # bytes the references replaced

    def hashes(self) -> list[str]:
        return list(self.entries)

    def resolve(self, fm: ForwardMsg, data: bytes) -> ForwardMsg:
        """Keep a cacheable message; replace a reference by the message it names."""
        if fm.metadata.cacheable and fm.hash and fm.hash not in self.entries:
            self.entries[fm.hash] = (data, self.runs)
        if fm.WhichOneof("type") != "ref_hash":
            return fm
        entry = self.entries.get(fm.ref_hash)
        if entry is None:
            raise SessionError(f"the server referred to a message the session does not hold: {fm.ref_hash!r}")
        self.entries[fm.ref_hash] = (entry[0], self.runs)
        full = ForwardMsg()
        full.ParseFromString(entry[0])
        full.metadata.CopyFrom(fm.metadata)
        self.hits += 1
        self.saved += len(entry[0])
        return full

    def finished_run(self) -> None:
        """After a successful run: one run older; drop what was unused for more than max_age runs."""
        self.runs += 1
        self.entries = {h: e for h, e in self.entries.items() if self.runs - e[1] <= self.max_age}


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
    upstream: str = ""  # the replica nginx chose (X-Lagebild-Upstream, when the bench's nginx sends it)
    cache: MessageCache = field(default_factory=MessageCache)
    _ws: object = None
    _states: dict[str, WidgetState] = field(default_factory=dict)

    async def open(self) -> Run:
        """Load the page (HTTP), connect the WebSocket and run the script once."""
        async with httpx.AsyncClient(timeout=self.timeout, cookies=self.cookies) as http:
            r = await http.get(f"{self.base}/{self.page}" + (f"?{self.query}" if self.query else ""))
            r.raise_for_status()
            for name, value in r.cookies.items():
                self.cookies[name] = value
        await self._connect()
        self._states = {}
        return await self.rerun()

    async def _connect(self) -> None:
        ws_url = self.base.replace("http", "ws", 1) + "/_stcore/stream"
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        self._ws = await connect(ws_url, subprotocols=["streamlit"], additional_headers=headers,
                                 max_size=None, open_timeout=self.timeout, ping_interval=None)
        self.upstream = self._ws.response.headers.get("X-Lagebild-Upstream", "")

    async def reconnect(self, rng: random.Random, deadline: float) -> dict[str, float]:
        """After the WebSocket closed: what the frontend does (``WebsocketConnection``): wait
        :func:`reconnect_delay`, ping ``/_stcore/health`` and ``/_stcore/host-config`` until
        both answer (retrying after :func:`ping_delay`), open the WebSocket (same cookies);
        if that fails, wait the next reconnect delay and ping again. The session keeps its
        URL, page and message cache. Returns the seconds spent waiting, pinging and
        connecting; raises :class:`SessionError` at ``deadline`` (time.monotonic())."""
        await self.close()
        spent = {"wait_s": 0.0, "ping_s": 0.0, "connect_s": 0.0, "attempts": 0.0, "pings": 0.0}
        self.reconnect_errors: list[str] = []  # why pings and handshakes failed (the bench prints them)
        attempt = 0
        while True:
            attempt += 1
            spent["attempts"] = attempt
            t = time.monotonic()
            await asyncio.sleep(reconnect_delay(attempt, rng))
            spent["wait_s"] += time.monotonic() - t
            t = time.monotonic()
            retry = 0
            async with httpx.AsyncClient(timeout=min(self.timeout, 4.0), cookies=self.cookies) as http:
                while True:
                    if time.monotonic() > deadline:
                        raise SessionError("could not reconnect before the deadline")
                    ok = True
                    spent["pings"] += 1
                    for path in ("health", "host-config"):
                        try:
                            status = (await http.get(f"{self.base}/_stcore/{path}")).status_code
                            if status != 200:
                                self.reconnect_errors.append(f"{path}: HTTP {status}")
                                ok = False
                        except httpx.HTTPError as exc:
                            self.reconnect_errors.append(f"{path}: {type(exc).__name__}")
                            ok = False
                        if not ok:
                            break
                    if ok:
                        break
                    retry += 1
                    await asyncio.sleep(ping_delay(retry, rng))
            spent["ping_s"] += time.monotonic() - t
            t = time.monotonic()
            try:
                await self._connect()
            except Exception as exc:  # refused, closed during the handshake: next attempt
                self.reconnect_errors.append(f"stream: {type(exc).__name__}: {exc}"[:160])
                spent["connect_s"] += time.monotonic() - t
                if time.monotonic() > deadline:
                    raise SessionError("could not reconnect before the deadline") from None
                continue
            spent["connect_s"] += time.monotonic() - t
            return spent

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
        cs.cached_message_hashes.extend(self.cache.hashes())
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
            fm = self.cache.resolve(fm, data)
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                self.session_id = fm.new_session.initialize.session_id or self.session_id
                self.cache.max_age = fm.new_session.config.max_cached_message_age or self.cache.max_age
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
                self.cache.finished_run()
                # like the frontend: keep only the values of widgets that still exist
                alive = {w.id for w in widgets.values()}
                self._states = {i: st for i, st in self._states.items() if i in alive}
                self.widgets = widgets
                return Run(time.perf_counter() - started, widgets, texts, exceptions, self.query,
                           self.page_hash, ran_page)

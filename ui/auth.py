"""Who is looking: login through Streamlit's ``st.login`` (OpenID Connect) and the role mapping.

With an ``[auth]`` section in ``.streamlit/secrets.toml`` every visitor must log in; the
role and districts come from the role configuration (:func:`data.roles.parse_role_config`,
read from ``LAGEBILD_ROLES``, ``.streamlit/roles.toml`` or the ``[lagebild.roles]`` section
of the secrets). Without ``[auth]`` the app runs as a local single-user admin (narrowed by
``LAGEBILD_LOCAL_ROLE``/``LAGEBILD_LOCAL_DISTRICTS`` if set).

The identity is read in one place, :func:`identity`, from ``st.user`` (set by the login
cookie, never by the URL), so tests can seed it (``AppTest.user``) or replace it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import streamlit as st

from base.i18n import md_escape, register, t
from data.roles import EMPTY_CONFIG, Principal, RoleConfig, local_principal, parse_role_config, principal_for

ROOT = Path(__file__).resolve().parent.parent
ROLES_FILE = ROOT / ".streamlit" / "roles.toml"

register({
    "auth.title": ("Anmeldung", "Log in"),
    "auth.intro": ("Lagebild enthält personenbezogene Daten. Bitte melden Sie sich an.",
                   "Lagebild holds personal data. Please log in."),
    "auth.login": ("Anmelden", "Log in"),
    "auth.login_with": ("Anmelden mit {provider}", "Log in with {provider}"),
    "auth.logout": ("Abmelden", "Log out"),
    "auth.denied_title": ("Kein Zugriff", "No access"),
    "auth.denied": ("Für {email} ist keine Rolle eingerichtet. Bitte wenden Sie sich an die "
                    "Administration.", "No role is set up for {email}. Please contact the administrators."),
    "auth.config_error": ("Die Rollenkonfiguration ist fehlerhaft: {error}",
                          "The role configuration is invalid: {error}"),
    "auth.local": ("Lokaler Einzelbenutzer-Modus ohne Anmeldung: {role}",
                   "Local single-user mode without login: {role}"),
    "auth.user": ("Angemeldet: {who} · {role}", "Logged in: {who} · {role}"),
    "auth.districts": ("Bezirke: {districts}", "Districts: {districts}"),
    "role.viewer": ("Betrachter", "Viewer"),
    "role.coordinator": ("Koordination", "Coordinator"),
    "role.admin": ("Administration", "Administrator"),
})


def auth_configured() -> bool:
    """Whether login is configured (an ``[auth]`` section in the secrets)."""
    secrets = st.secrets
    return bool(secrets.load_if_toml_exists() and "auth" in secrets)


def providers() -> list[str | None]:
    """The named OIDC providers of ``[auth]`` (``[None]`` for the unnamed default provider)."""
    section = st.secrets.get("auth", {})
    named = [name for name, value in section.items() if isinstance(value, Mapping)]
    return named or [None]


def role_config() -> RoleConfig:
    """The role mapping: ``LAGEBILD_ROLES`` (a TOML file), ``.streamlit/roles.toml`` or the
    ``[lagebild.roles]`` section of the secrets; ``ValueError`` for an invalid one."""
    path = os.environ.get("LAGEBILD_ROLES", "").strip()
    file = Path(path) if path else ROLES_FILE
    if path and not file.is_file():
        raise ValueError(f"LAGEBILD_ROLES must name a TOML file, got {path!r}")
    if file.is_file():
        return _parse_file(str(file), file.stat().st_mtime_ns)
    if st.secrets.load_if_toml_exists():
        section = st.secrets.get("lagebild", {})
        if "roles" in section:
            return parse_role_config(_plain(section["roles"]))
    return EMPTY_CONFIG


@st.cache_data(show_spinner=False, max_entries=4)
def _parse_file(path: str, mtime: int) -> RoleConfig:
    del mtime  # cache key only: a changed file is read again
    with open(path, "rb") as fh:
        try:
            raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML ({exc})") from None
    return parse_role_config(raw)


def _plain(value):
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def identity() -> dict:
    """The logged-in identity as a plain dict (``st.user``): is_logged_in, email, name, claims."""
    return dict(st.user.to_dict())


def current_principal() -> Principal | None:
    """The principal of this session; ``None`` when a login is needed or access is denied.

    Raises ``ValueError`` for an invalid role configuration or local environment.
    """
    if not auth_configured():
        return local_principal(os.environ)
    who = identity()
    if not who.get("is_logged_in"):
        return None
    config = role_config()
    groups = who.get(config.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    # An e-mail address the identity provider marks as unverified grants nothing.
    email = None if who.get("email_verified") is False else who.get("email")
    return principal_for(config, email, [str(g) for g in groups], who.get("name"))


def require_login(lang: str) -> Principal:
    """The principal of this session, or a login / no-access screen and ``st.stop()``."""
    try:
        principal = current_principal()
    except ValueError as exc:
        st.error(t("auth.config_error", lang, error=md_escape(exc)))
        st.stop()
    if principal is not None:
        return principal
    who = identity() if auth_configured() else {}
    if who.get("is_logged_in"):
        st.title(t("auth.denied_title", lang))
        st.warning(t("auth.denied", lang, email=md_escape(who.get("email") or "?")))
        if st.button(t("auth.logout", lang), key="auth_logout_denied"):
            st.logout()
        st.stop()
    st.title(t("auth.title", lang))
    st.write(t("auth.intro", lang))
    for provider in providers():
        label = t("auth.login", lang) if provider is None else t("auth.login_with", lang,
                                                                 provider=provider.title())
        if st.button(label, key=f"auth_login_{provider or 'default'}", type="primary"):
            st.login(provider) if provider else st.login()
    st.stop()


def sidebar_identity(principal: Principal, lang: str, district_names: Mapping[str, str]) -> None:
    """Who is logged in with which role (or that the app runs in local mode), and a logout."""
    role = t(f"role.{principal.role}", lang)
    if not principal.authenticated:
        st.sidebar.caption(t("auth.local", lang, role=role))
    else:
        st.sidebar.caption(t("auth.user", lang, who=md_escape(principal.email or principal.name or "?"),
                             role=role))
    if principal.districts is not None:
        names = ", ".join(district_names.get(d, d) for d in principal.districts if d in district_names)
        st.sidebar.caption(t("auth.districts", lang, districts=md_escape(names or "–")))
    if principal.authenticated and st.sidebar.button(t("auth.logout", lang), key="auth_logout"):
        st.logout()

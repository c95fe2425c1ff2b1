"""Bluesky sessions: an app password buys an access token and a single-use refresh token
(com.atproto.server.createSession, refreshSession), and every call of an account is made with them.

A session is made once per PDS and credentials in each process and kept in memory; a new or refreshed one is
also stored with the channel's sealed credentials (Account.save_credentials), so that the next process
starts from it instead of signing in again: createSession is limited to 30 per 5 minutes and 300 a day per
handle. An expired access token answers 400 ExpiredToken (a revoked one 401): the session is refreshed,
else made anew from the app password, and the call sent once more.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.networks.bluesky.channel import ChannelSettings
from shared.networks.bluesky.xrpc import error_text, session_refused
from shared.networks.ports import Account, AuthExpired
from shared.networks.toolkit.answers import answer_object, reading, required_text
from shared.networks.toolkit.calls import Calls

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Session:
    """What createSession or refreshSession answered: who, and the two tokens."""

    did: str
    handle: str
    access_jwt: str = field(repr=False)
    refresh_jwt: str = field(repr=False)


@dataclass(frozen=True)
class Credentials:
    identifier: str
    app_password: str = field(repr=False)
    # The session an earlier process made and kept (see save), so this one need not sign in again.
    stored_session: Session | None = field(default=None, repr=False)
    save: Callable[[Mapping[str, Any]], None] | None = field(default=None, repr=False, compare=False)

    def keep(self, session: Session) -> None:
        """Store a new or refreshed session with the credentials, for the next process to start from."""
        if self.save is None:
            return
        stored = {
            "did": session.did,
            "handle": session.handle,
            "access_jwt": session.access_jwt,
            "refresh_jwt": session.refresh_jwt,
        }
        try:
            self.save({"identifier": self.identifier, "app_password": self.app_password, "session": stored})
        except Exception:
            # Keeping it saves a sign-in later; failing to must not fail the post that is going out now.
            log.warning("could not store the refreshed Bluesky session", exc_info=True)

    @property
    def cache_key(self) -> str:
        # New credentials for the same handle (the person reconnected) must not reuse the old session.
        digest = hashlib.sha256(f"{self.identifier}\0{self.app_password}".encode()).hexdigest()
        return digest


class Sessions:
    """The sessions of this process, by PDS and credentials, and the calls made with them."""

    def __init__(self, calls: Calls) -> None:
        self._calls = calls
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str], Session] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}

    def call(
        self,
        channel: ChannelSettings,
        credentials: Credentials,
        method: str,
        nsid: str,
        *,
        write: bool = False,
        **request: Any,
    ) -> httpx.Response:
        """One XRPC call with the account's session, renewed once if the PDS says the token expired."""
        session = self.of(channel, credentials)
        url = f"{channel.pds_url}/xrpc/{nsid}"
        response = self._calls.send(method, url, token=session.access_jwt, write=write, **request)
        if session_refused(response):
            # Refused before anything was written, so sending again cannot make a second post.
            session = self._renew(channel, credentials, session)
            response = self._calls.send(method, url, token=session.access_jwt, write=write, **request)
            if session_refused(response):
                self._forget(channel, credentials)
        return response

    def of(self, channel: ChannelSettings, credentials: Credentials) -> Session:
        """The account's session: this process's, else the one stored, else a new one."""
        key = (channel.pds_url, credentials.cache_key)
        with self._lock:
            session = self._by_key.get(key)
            if session is not None:
                return session
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                session = self._by_key.get(key)
            if session is None:
                # A session kept by an earlier process, if any: should it have expired, the first call
                # says so and it is refreshed like any other.
                session = credentials.stored_session
                if session is None:
                    session = self._create(channel, credentials)
                    credentials.keep(session)
                with self._lock:
                    self._by_key[key] = session
            return session

    def _renew(self, channel: ChannelSettings, credentials: Credentials, stale: Session) -> Session:
        """A working session in place of `stale`: refreshed, else created anew. One thread at a time."""
        key = (channel.pds_url, credentials.cache_key)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                current = self._by_key.get(key)
            if current is not None and current.access_jwt != stale.access_jwt:
                return current  # another thread renewed it while this one waited
            # A refresh token is single-use: only the thread holding the lock may spend it.
            session = self._refresh(channel, stale) or self._create(channel, credentials)
            credentials.keep(session)
            with self._lock:
                self._by_key[key] = session
            return session

    def _forget(self, channel: ChannelSettings, credentials: Credentials) -> None:
        with self._lock:
            self._by_key.pop((channel.pds_url, credentials.cache_key), None)

    def _create(self, channel: ChannelSettings, credentials: Credentials) -> Session:
        response = self._calls.send(
            "POST",
            f"{channel.pds_url}/xrpc/com.atproto.server.createSession",
            json={"identifier": credentials.identifier, "password": credentials.app_password},
        )
        if response.status_code in (400, 401):
            raise AuthExpired(
                f"{channel.host} refused the identifier and app password ({error_text(response)}): "
                "connect the account again with a new app password"
            )
        self._calls.check(response, what=channel.host)
        return _session_from(response, channel.host)

    def _refresh(self, channel: ChannelSettings, stale: Session) -> Session | None:
        response = self._calls.send(
            "POST",
            f"{channel.pds_url}/xrpc/com.atproto.server.refreshSession",
            token=stale.refresh_jwt,
        )
        if response.status_code in (400, 401):
            return None  # expired, revoked or spent: a new session from the app password
        self._calls.check(response, what=channel.host)
        return _session_from(response, channel.host)


def credentials_of(account: Account) -> Credentials:
    """The channel's identifier and app password, with the session stored with them; AuthExpired without."""
    identifier = account.credentials.get("identifier")
    password = account.credentials.get("app_password")
    if not (isinstance(identifier, str) and identifier and isinstance(password, str) and password):
        raise AuthExpired("the Bluesky channel has no identifier and app password: connect the account again")
    return Credentials(
        identifier=identifier.strip().removeprefix("@"),
        app_password=password,
        stored_session=_stored_session(account.credentials.get("session")),
        save=account.save_credentials,
    )


def _stored_session(stored: object) -> Session | None:
    if not isinstance(stored, Mapping):
        return None
    fields_ = ("did", "handle", "access_jwt", "refresh_jwt")
    if not all(isinstance(stored.get(name), str) and stored.get(name) for name in fields_):
        return None
    return Session(**{name: stored[name] for name in fields_})


def _session_from(response: httpx.Response, host: str) -> Session:
    body = answer_object(response, what=host, write=False)
    with reading(host, write=False):
        return Session(
            did=required_text(body["did"]),
            handle=required_text(body["handle"]),
            access_jwt=required_text(body["accessJwt"]),
            refresh_jwt=required_text(body["refreshJwt"]),
        )

"""A Usenet channel's options and credentials, checked, and what a draft may be on Usenet."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.networks.nntp.client import Server, Tls
from shared.networks.outbound import AddressPolicy
from shared.networks.ports import Draft
from shared.networks.toolkit.parts import labelled_texts
from shared.networks.toolkit.settings import unknown_options

SETTING_KEYS = frozenset({"server", "port", "newsgroups", "tls", "from", "message_id_domain"})
PLAIN_PORT = 119
TLS_PORT = 563  # RFC 8143: NNTP over implicit TLS
# Crossposting to many groups is what Usenet's spam filters look for (INN's and Cleanfeed's count them);
# a handful is the etiquette, and what Crier allows.
MAX_NEWSGROUPS = 5
# RFC 5536 section 3.1.4: a newsgroup name is dot-separated components of letters, digits, "+", "-", "_";
# RFC 5537 section 3.2.1 asks that a component be at most 30 characters.
_NEWSGROUP = re.compile(r"[A-Za-z0-9+_-]{1,30}(\.[A-Za-z0-9+_-]{1,30})*")
# A host name (letters, digits, hyphens, dots) or an IP address.
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})|\[?[0-9A-Fa-f:.]+\]?")
# RFC 5536 section 3.1.3 / RFC 5322 dot-atom-text: the right-hand side of a Message-ID.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@" + _DOT_ATOM.pattern)
_TLS_CHOICES = {tls.value: tls for tls in (Tls.NONE, Tls.STARTTLS, Tls.IMPLICIT)}


@dataclass(frozen=True)
class ChannelSettings:
    """A Usenet channel's options, checked."""

    server: Server
    newsgroups: tuple[str, ...]
    # The From header's display name and address.
    name: str
    address: str
    message_id_domain: str


def parse_settings(
    settings: Mapping[str, Any], policy: AddressPolicy
) -> tuple[ChannelSettings | None, list[str]]:
    """The channel's options and the problems with them; None when they cannot be used."""
    problems = unknown_options(settings, SETTING_KEYS)
    host = settings.get("server")
    if not isinstance(host, str) or not _HOST.fullmatch(host.strip()):
        problems.append("server is required: the news server's host name, e.g. news.example.org")
        host = None
    elif policy.refuses_as_written(host.strip()):
        problems.append(
            "server is an address on this machine or a private network, which this Crier does not connect "
            "to (its operator may allow one with CRIER_ALLOWED_PRIVATE_HOSTS)"
        )
    tls_setting = settings.get("tls")
    tls = _TLS_CHOICES.get(tls_setting) if isinstance(tls_setting, str) else None
    if tls_setting is None:
        tls = Tls.OFFERED
    elif tls is None:
        problems.append("tls must be none, starttls or implicit (unset: STARTTLS when the server offers it)")
    port = settings.get("port", TLS_PORT if tls is Tls.IMPLICIT else PLAIN_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        problems.append("port must be a port number (119; 563 for implicit TLS)")
    newsgroups = settings.get("newsgroups")
    if isinstance(newsgroups, str):
        newsgroups = [newsgroups]
    if (
        not isinstance(newsgroups, list | tuple)
        or not newsgroups
        or not all(isinstance(group, str) and _NEWSGROUP.fullmatch(group) for group in newsgroups)
    ):
        problems.append("newsgroups must list the groups to post to, e.g. ['comp.lang.python']")
        newsgroups = []
    elif len(newsgroups) > MAX_NEWSGROUPS:
        problems.append(f"newsgroups may name at most {MAX_NEWSGROUPS} groups: more is taken for spam")
    name, address = _sender(settings.get("from"))
    if address is None:
        problems.append("from is required: the poster's address, e.g. 'Ada <ada@example.org>'")
    domain = settings.get("message_id_domain")
    if domain is not None and not (isinstance(domain, str) and _DOT_ATOM.fullmatch(domain) and "." in domain):
        problems.append("message_id_domain must be a domain name, e.g. example.org")
    if problems or host is None or tls is None or address is None:
        return None, problems
    return (
        ChannelSettings(
            server=Server(host=host.strip().strip("[]"), port=port, tls=tls),
            newsgroups=tuple(dict.fromkeys(newsgroups)),
            name=name,
            address=address,
            message_id_domain=domain or address.rpartition("@")[2],
        ),
        [],
    )


def _sender(value: object) -> tuple[str, str | None]:
    """The From setting's display name and address; no address when it is not one."""
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        return "", None
    name, address = email.utils.parseaddr(value.strip())
    if not _ADDRESS.fullmatch(address):
        return "", None
    return name, address


def credentials_problems(credentials: Mapping[str, Any]) -> list[str]:
    """Problems with AUTHINFO's username and password: both or neither (a server that lets anyone post)."""
    username, password = login_of(credentials)
    if bool(username) != bool(password):
        return ["username and password go together: give both (for AUTHINFO), or neither"]
    if any(" " in value or not value.isprintable() for value in (username or "", password or "")):
        return ["username and password must be printable, without spaces (AUTHINFO sends them on one line)"]
    return []


def login_of(credentials: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The username and password, each None when absent or empty."""
    username = credentials.get("username")
    password = credentials.get("password")
    return (
        username if isinstance(username, str) and username else None,
        password if isinstance(password, str) and password else None,
    )


def draft_problems(draft: Draft) -> list[str]:
    """What a news server would refuse, or Crier cannot send, in a draft."""
    problems = [f"{label} is empty" for label, text in labelled_texts(draft) if not text.strip()]
    if draft.media:
        problems.append("Usenet articles from Crier are text only: remove the media")
    subject = draft.options.get("subject")
    if subject is not None and not (isinstance(subject, str) and subject.strip()):
        problems.append("subject must be a line of text")
    return problems

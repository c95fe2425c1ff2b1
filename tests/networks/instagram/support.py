"""What the Instagram adapter's tests build from: the adapter pointed at the fake, an account, a draft."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.networks.instagram.adapter import InstagramNetwork
from shared.networks.ports import Account, Draft
from tests.media.samples import image
from tests.networks.instagram.fake import FakeInstagram, IgAccount
from tests.networks.instagram.media_host import MediaHost
from tests.networks.on_this_machine import outbound_here

HERE = outbound_here()


def make_network(fake: FakeInstagram, read_timeout: float = 2.0, **options: Any) -> InstagramNetwork:
    defaults: dict[str, Any] = {
        "graph_url": fake.base_url,
        "dialog_url": fake.base_url,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "poll_interval": 0.01,
        "poll_attempts": 5,
    }
    http = HERE.client(httpx.Timeout(2.0, read=read_timeout))
    return InstagramNetwork(HERE, http=http, **(defaults | options))


def account_of(ig: IgAccount) -> Account:
    return Account(
        channel_id="instagram",
        handle=ig.username,
        credentials={"access_token": ig.token, "ig_user_id": ig.ig_user_id},
    )


def photo(host: MediaHost, text: str = "Our meetup, #community with @bob.smith", **options: Any) -> Draft:
    return Draft(text=text, media=(host.item(image("JPEG"), alt_text="Twelve people"),), options=options)


def key() -> str:
    return str(uuid.uuid4())

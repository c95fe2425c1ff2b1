"""What the dashboard's browser tests share: signing in, the phone's width, and the checks every screen
passes (each control named, nothing scrolling sideways, an image loaded)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

PHONE_WIDTH = 390
# Every control a person uses is named: by its label, its own text, or aria-label. What the page
# gives as the reason for each one that is not.
UNNAMED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter((control) => control.type !== 'hidden')
  .filter((control) => !((control.labels && control.labels.length) || control.getAttribute('aria-label')
                         || control.innerText.trim()))
  .map((control) => control.outerHTML)"""
FOCUS_OUTLINE = "() => getComputedStyle(document.activeElement).outlineStyle"
# An image's width once the browser has loaded it (0 when it failed): read at once, an image still loading on
# a busy machine reads as not there.
LOADED_WIDTH = """(img) => img.complete ? img.naturalWidth : new Promise((done) => {
    img.addEventListener("load", () => done(img.naturalWidth), {once: true});
    img.addEventListener("error", () => done(0), {once: true});
})"""


def sign_in(page: Page, live_server: str, token: str) -> None:
    page.goto(f"{live_server}/dashboard")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_selector("#upcoming")


def check_accessible(page: Page) -> None:
    # Measured once the stylesheet has loaded: an element waited for can show while a busy machine still
    # sends dashboard.css, and the unstyled page is as wide as its longest word (1,395 px on a phone).
    page.wait_for_load_state("load")
    assert page.evaluate(UNNAMED_CONTROLS) == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"]  # type: ignore[index]


def loaded_width(image: Locator) -> int:
    return int(image.evaluate(LOADED_WIDTH))

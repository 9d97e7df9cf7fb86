"""voiceguide serve's pages in a real browser: Debian's Chromium, headless and muted, driven
by Selenium through the system's chromedriver (never a downloaded one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from .serving import Served, serving, wait_until

pytestmark = pytest.mark.speech
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
"""Debian's chromium and chromium-driver, installed by scripts/setup."""

SCREENSHOTS = Path(__file__).parent.parent / ".screenshots"
"""Where the 360 px screenshots are left to be looked at (ignored by git)."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # a pace of its own: audio not made yet by another test, so the page shows its making
    with serving(tmp_path_factory.mktemp("config"), "--pace", "0.9") as server:
        yield server


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(120)
    phone(driver)
    try:
        yield driver
    finally:
        driver.quit()


def no_sideways_scroll(browser: WebDriver) -> bool:
    width = browser.execute_script("return document.documentElement.scrollWidth")
    return bool(width <= browser.execute_script("return window.innerWidth"))


def phone(browser: WebDriver, height: int = 800) -> None:
    """A phone's screen, 360 CSS pixels wide (headless Chromium's windows are at least 500)."""
    metrics = {"width": 360, "height": height, "deviceScaleFactor": 1, "mobile": True}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def screenshot(browser: WebDriver, name: str) -> None:
    """The whole page at 360 px wide, in .screenshots/ (to look at; ignored by git)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    phone(browser, min(max(800, height), 4000))
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    phone(browser)


def test_the_first_page_lists_the_routines(served: Served, browser: WebDriver) -> None:
    browser.get(served.url)
    links = {a.text: a for a in browser.find_elements(By.CSS_SELECTOR, "ul.routines a")}
    assert {"Shoulder roll", "Desk break", "Upper-back release", "Floor and wall"} <= set(links)
    assert browser.execute_script("return window.innerWidth") == 360
    assert no_sideways_scroll(browser)
    screenshot(browser, "index")
    links["Shoulder roll"].click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Shoulder roll"
    # not made yet: a progress bar, then the page again with the player once it is made
    progress = browser.find_element(By.CSS_SELECTOR, "#making progress")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=made]").text == "Made so far"
    assert progress.get_attribute("max") == "1"
    assert no_sideways_scroll(browser)
    screenshot(browser, "making")
    wait_until(lambda: browser.find_elements(By.TAG_NAME, "audio"), seconds=180)


def audio_state(browser: WebDriver) -> dict:
    return dict(
        browser.execute_script(
            "var a = document.querySelector('audio');"
            "var c = document.querySelector('[data-caption]');"
            "return {time: a.currentTime, paused: a.paused, error: a.error && a.error.code,"
            " ready: a.readyState, caption: c.textContent};"
        )
    )


def test_a_routine_page_plays_seeks_by_chapter_and_shows_the_caption(
    served: Served, browser: WebDriver
) -> None:
    browser.get(f"{served.url}r/shoulder-roll")
    # the audio is made on demand: a progress bar, then the page again with the player
    wait_until(lambda: browser.find_elements(By.TAG_NAME, "audio"), seconds=180)
    assert no_sideways_scroll(browser)
    browser.execute_script("document.querySelector('audio').play()")
    wait_until(lambda: audio_state(browser)["time"] > 0.5, seconds=20)
    state = audio_state(browser)
    assert not state["paused"] and state["error"] is None

    cues = browser.execute_script("return JSON.parse(document.getElementById('cues').textContent)")
    chapters = browser.find_elements(By.CSS_SELECTOR, "a[data-start]")
    assert [c.text for c in chapters] == ["Introduction", "Shoulder roll", "Closing"]
    target = chapters[1]
    start = float(target.get_attribute("data-start") or "nan")
    assert start > 5
    target.click()
    wait_until(lambda: start <= audio_state(browser)["time"] < start + 3, seconds=10)

    def caption_is_the_cue_of_the_moment() -> bool:
        state = audio_state(browser)
        ms = state["time"] * 1000
        spoken = [c["text"] for c in cues if c["start"] <= ms < c["end"]]
        return bool(spoken) and state["caption"] == spoken[0]

    wait_until(caption_is_the_cue_of_the_moment, seconds=15, step=0.05)
    screenshot(browser, "routine")

    # the keyboard does what a tap does: the last chapter, by Enter on its focused link
    last = chapters[2]
    last_start = float(last.get_attribute("data-start") or "nan")
    last.send_keys(Keys.ENTER)
    wait_until(lambda: last_start <= audio_state(browser)["time"] < last_start + 3, seconds=10)


def test_the_page_is_labelled(served: Served, browser: WebDriver) -> None:
    browser.get(f"{served.url}r/shoulder-roll")
    wait_until(lambda: browser.find_elements(By.TAG_NAME, "audio"), seconds=180)
    audio = browser.find_element(By.TAG_NAME, "audio")
    assert "Shoulder roll" in (audio.get_attribute("aria-label") or "")
    nav = browser.find_element(By.TAG_NAME, "nav")
    assert nav.get_attribute("aria-labelledby") == "chapters-title"
    assert browser.find_element(By.CSS_SELECTOR, "img.chart").get_attribute("alt")
    assert browser.execute_script("return document.documentElement.lang") == "en"
    downloads = browser.find_elements(By.CSS_SELECTOR, "ul.downloads a")
    assert [d.get_attribute("download") for d in downloads] == [
        "shoulder-roll.m4a",
        "shoulder-roll.mp3",
        "shoulder-roll.vtt",
    ]

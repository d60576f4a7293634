"""Headless Chromium for the HTML report's tests: Selenium driving the machine's own Chromium and chromedriver
(Debian: `apt-get install chromium chromium-driver`), so nothing is downloaded (no selenium-manager).

`unavailable_reason()` says why no browser can be started here (None when one can); `start()` starts one that
records the page's console (browser log) and its network requests (performance log). The tests skip, naming
the reason, when none can be had; with SDSSM_REQUIRE_BROWSER=1 (CI, .ci/run) they fail instead.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

INSTALL = "install them (Debian: apt-get install chromium chromium-driver; pip install -e '.[test]')"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def unavailable_reason() -> str | None:
    """Why no headless Chromium can be started here, or None when one can."""
    try:
        import selenium  # noqa: F401, PLC0415
    except ImportError:
        return f"Selenium is not installed; {INSTALL}"
    missing = [name for name, path in (("chromium", _browser()), ("chromedriver", shutil.which("chromedriver")))
               if path is None]
    return f"no {' or '.join(missing)} on PATH; {INSTALL}" if missing else None


def start(width: int = 1400, height: int = 1000) -> Any:
    """A headless Chromium (selenium.webdriver.Chrome) logging console messages and network requests."""
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = str(_browser())
    for argument in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    if os.geteuid() == 0:  # Chromium's sandbox refuses to run as root
        options.add_argument("--no-sandbox")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)

"""A screenshot of the `vidgan demo` page, taken by headless Chromium after a transfer of built-in examples.

Debian's ``/usr/bin/chromium`` is driven through Playwright (``executable_path``); no browser
is downloaded. The tests in ``tests/demo`` launch the browser with :func:`launch` too.

    python benchmarks/demo_screenshot.py runs/dual_mtgan --out docs/assets/demo.png
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from vidgan_kit.demo import start_in_thread

CHROMIUM = Path("/usr/bin/chromium")
#: Headless, offline and quiet: without the background-networking switches Chromium's own
#: connections (updates, sync, field trials) are refused on machines without a network.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
VIEWPORT = {"width": 1100, "height": 760}
#: Seconds to wait for a render: a CPU shared with other work is slow.
RENDER_TIMEOUT_S = 300


def launch(playwright: Any, profile: Path, executable: Path = CHROMIUM) -> Any:
    """A browser context of ``executable`` with a fresh profile in ``profile``, downloads accepted."""
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(executable), headless=True, args=list(FLAGS), accept_downloads=True,
        viewport=VIEWPORT)


def open_page(context: Any, url: str) -> Any:
    """A page at the demo's ``url``, once its script has loaded the model's state."""
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return page


def animate_examples(page: Any, image: int = 0, video: int = -1) -> None:
    """Pick built-in examples on the Transfer tab (by position) and animate; returns when the result is shown."""
    page.locator(".picks[data-tab=transfer][data-kind=image] button").nth(image).click()
    page.locator(".picks[data-tab=transfer][data-kind=video] button").nth(video).click()
    page.click("#transfer-run")
    page.wait_for_selector("#transfer-downloads:not([hidden])", timeout=RENDER_TIMEOUT_S * 1000)


def shoot(page: Any, out: Path) -> Path:
    """The demo page after a transfer of examples, as a PNG at ``out``."""
    animate_examples(page)
    page.wait_for_function("() => { const v = document.getElementById('transfer-result');"
                           " const g = document.getElementById('transfer-result-gif');"
                           " return (!v.hidden && v.readyState >= 2) || (!g.hidden && g.complete); }")
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
    return out


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run directory or a folder of runs")
    parser.add_argument("--out", type=Path, default=Path("docs/assets/demo.png"))
    parser.add_argument("--chromium", type=Path, default=CHROMIUM, help="the browser to drive")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    server = start_in_thread(args.run)
    try:
        with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="vidgan-chromium-") as profile:
            context = launch(playwright, Path(profile), args.chromium)
            try:
                shoot(open_page(context, server.url), args.out)
            finally:
                context.close()
    finally:
        server.stop()
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()

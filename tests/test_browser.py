"""Chapter 0's cluster view in a real browser: JupyterLab + Debian's Chromium, driven by Playwright.

Step, Play and Pause; then time travel (drag the slider back, a key over the picture, Fork here) and
manual mode (deliver a chosen message).

Skipped when /usr/bin/chromium or Playwright is missing, except under CI (CI=true), where it fails.
The notebook is copied to a temporary folder first, so JupyterLab's autosave never touches the repo.
Screenshots of the run are left in the test's tmp_path (browser.png, view.png).
"""

import contextlib
import pathlib
import shutil

import lab_harness as harness

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "notebooks" / "00_welcome.ipynb"


def test_cluster_view_steps_and_plays_in_chromium(tmp_path):
    harness.require_browser()
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    page_errors = []
    with harness.running_lab(folder, tmp_path) as lab, harness.browser(tmp_path) as browser:
        page = harness.open_notebook(browser, lab, NOTEBOOK.name)
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        try:
            harness.run_all_cells(page, timeout=120)
            harness.wait_for_view(page)
            # Chapter 0 shows a view's error line on purpose (restarting a running node); Step clears it.
            assert harness.notebook_errors(page, view=False) == []

            before = harness.picture_src(page)
            (step_ms,) = harness.click_to_picture_ms(page, repeat=1)
            assert harness.picture_src(page) != before, "Step did not change the picture"

            played = harness.play_fps(page, seconds=1.5)
            assert played["frames"] >= 3, f"Play showed too few pictures: {played}"
            assert harness.wait_until_still(page), "the picture kept changing after Pause"

            # Time travel: drag the slider back, step forward with the keyboard, fork, go on live.
            for _ in range(4):
                harness.click(page, "ftt-step")
            present = harness.wait_for_step(page, lambda step: step >= 8)
            before = harness.picture_src(page)
            harness.drag_slider(page, 0.3)
            back = harness.settled_step(page)
            assert back < present * 0.6, f"dragging the slider to 30% went to step {back} of {present}"
            assert harness.picture_src(page) != before, "scrubbing back did not change the picture"
            assert "recorded steps ahead" in harness.future_text(page)
            harness.press_over_picture(page, "ArrowRight")
            harness.wait_for_step(page, back + 1)
            cells = page.locator(f"{harness.PANEL} .jp-Cell").count()
            harness.press_over_picture(page, "b")        # back; and not JupyterLab's "insert a cell below"
            harness.wait_for_step(page, back)
            harness.press_over_picture(page, "ArrowRight")
            harness.wait_for_step(page, back + 1)
            assert page.locator(f"{harness.PANEL} .jp-Cell").count() == cells, "a key reached JupyterLab"
            harness.click(page, "ftt-fork")
            harness.wait_for_step(page, back + 1)
            page.wait_for_function("(sel) => document.querySelector(sel).innerText.includes('the present')",
                                   arg=f"{harness.PANEL} {harness.VIEW} {harness.FUTURE}", timeout=10_000)
            assert "forked at step" in harness.message(page)
            # Manual mode: deliver the first message in flight, then Step goes on from there.
            harness.click(page, "ftt-manual")
            pending = page.locator(f"{harness.PANEL} {harness.VIEW} .ftt-pending select").first
            pending.wait_for(state="visible", timeout=10_000)
            options = [o.strip() for o in pending.locator("option").all_inner_texts()]
            first = next((k for k, o in enumerate(options) if o.startswith("m")), None)
            assert first is not None, f"the manual panel lists no message in flight: {options}"
            name = options[first].split()[0]
            pending.select_option(index=first)
            harness.click(page, "ftt-deliver")
            harness.wait_for_step(page, back + 2)
            page.wait_for_function(
                "([sel, name]) => ![...document.querySelectorAll(sel + ' option')]"
                ".some(o => o.innerText.trim().split(/\\s+/)[0] === name)",
                arg=[f"{harness.PANEL} {harness.VIEW} .ftt-pending select", name], timeout=10_000)

            assert harness.notebook_errors(page) == []
            assert page_errors == [], "uncaught errors in the page"
        finally:
            with contextlib.suppress(Exception):    # a failed screenshot must not hide the failure
                page.screenshot(path=str(tmp_path / "browser.png"), full_page=True)
                harness.screenshot_view(page, tmp_path / "view.png")
    assert (tmp_path / "view.png").stat().st_size > 10_000
    print(f"Step: new picture {step_ms:.0f} ms after the click; Play: {played['fps']:.1f} pictures/s; "
          f"screenshots in {tmp_path}")

"""The web pages in a real browser: Debian's Chromium, headless, driven by Playwright against the
app served on a free port, with data from a real sync cycle on the mock portals.

The browser is Debian's Chromium (/usr/bin/chromium) if installed, else Playwright's own
Chromium if `playwright install chromium` has fetched it. With neither, these tests are skipped
with the reason in the summary, except in CI (CI=true, which .ci/run sets), where a missing
browser fails them: CI never passes without having run them.

Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from connectors.base import Connector
from connectors.scenario import Scenario
from reconcile.period import Period
from syncd.config import Config
from syncd.queue import public_id
from syncd.report_cli import report_document
from syncd.service import Syncer
from syncd.store import Store
from syncd.web.app import make_app
from syncd.web.auth import Users
from syncd.web.server import serving

CHROMIUM = Path("/usr/bin/chromium")
DEBIAN_CHROMIUM = str(CHROMIUM) if CHROMIUM.exists() else None  # else Playwright's own
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
PASSWORD = "mat-khau-du-dai"
KIND = "collapsed_status"  # accepting the national portal's "finished" moves a form cell


def no_browser(reason: str) -> None:
    """Skip the test for want of a browser, or fail it in CI, where it must run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true and no browser to run the browser tests: {reason}")
    pytest.skip(f"no browser: {reason}")


@dataclass
class Served:
    url: str
    store: Store
    config: Config
    scenario: Scenario
    syncer: Syncer


@pytest.fixture
async def served(
    store: Store, config: Config, scenario: Scenario, connectors: list[Connector]
) -> AsyncIterator[Served]:
    syncer = Syncer(store, connectors, clock=lambda: scenario.now)
    await syncer.cycle()
    users = Users(store)
    for role in ("viewer", "operator"):
        await users.add(f"{role}1", role, PASSWORD)
    app = make_app(store, config, syncer=syncer, clock=lambda: scenario.now)
    async with serving(app, "127.0.0.1", 0) as url:
        yield Served(url, store, config, scenario, syncer)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import Error, async_playwright
    except ImportError:
        no_browser("the playwright package is not installed")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        try:
            launched = await playwright.chromium.launch(
                executable_path=DEBIAN_CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        except Error as exc:
            no_browser(f"{CHROMIUM} is missing and Playwright's own Chromium does not start: {exc}")
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    context.set_default_timeout(10_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def log_in(page: Any, base: str, name: str, then: str = "/") -> None:
    await page.goto(f"{base}/login?next={quote(then)}")
    await page.get_by_label("Tên đăng nhập").fill(name)
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await page.wait_for_url(f"{base}{then}")


async def open_count(page: Any, base: str) -> int:
    await page.goto(f"{base}/")
    shown = await page.locator("#open-total").inner_text()
    match = re.search(r"(\d+)\s*$", shown.strip())
    assert match, shown
    return int(match[1])


async def form_cell(page: Any, base: str, label: str, field: str, column: int) -> int:
    await page.goto(f"{base}/reports/{label}")
    cell = page.locator(
        f'#form06 tr[data-field="{field}"][data-figures="corrected"] td[data-column="{column}"] a'
    )
    return int((await cell.inner_text()).strip())


async def first_open(store: Store, kind: str) -> dict[str, Any]:
    found = sorted(
        (r for r in await store.mismatches() if r["kind"] == kind and r["state"] == "open"),
        key=lambda r: (r["detected_at"], r["id"]),
    )
    assert found, kind
    return found[0]


async def test_an_operator_filters_resolves_and_sees_the_figures_change(
    served: Served, page: Any
) -> None:
    base = served.url
    period = Period.containing(served.scenario.now.date(), served.config.report.cutoff_day)
    target = await first_open(served.store, KIND)

    await page.goto(f"{base}/")
    assert "/login" in page.url
    await shot(page, "01-login")
    await log_in(page, base, "operator1")
    assert await page.get_attribute("html", "lang") == "vi"
    before_open = await open_count(page, base)
    await shot(page, "02-dashboard")
    before_pending = await form_cell(page, base, period.label, "total", 11)

    # The queue, filtered by kind through the form.
    await page.get_by_role("link", name="Sai lệch", exact=True).click()
    await page.get_by_label("Loại sai lệch").select_option(KIND)
    await page.get_by_role("button", name="Lọc", exact=True).click()
    await page.wait_for_url(re.compile(rf"kind={KIND}"))
    rows = page.locator("table tbody tr")
    kinds = await page.locator("table tbody tr td:nth-child(2)").all_inner_texts()
    assert await rows.count() == len(kinds) > 0
    assert set(kinds) == {"trạng thái bị gộp thành đã xử lý"}
    await shot(page, "03-queue-filtered")

    # One mismatch: both sides field by field, the differing row marked in words.
    # Rows name the dossier; the kind is in words beside it (no internal id on screen).
    await page.locator(f'a[href="/mismatches/{public_id(target["id"])}"]').first.click()
    await page.wait_for_selector("#sides")
    status_row = page.locator('#sides tr[data-field="status"]')
    assert "differs" in (await status_row.get_attribute("class") or "")
    assert "≠ Khác nhau" in await status_row.inner_text()
    await shot(page, "04-mismatch")

    await page.get_by_label("Cách giải quyết").select_option("accept_national")
    await page.get_by_label("Lý do (bắt buộc)").fill("Cổng DVCQG ghi đúng: hồ sơ đã xử lý xong")
    await page.get_by_role("button", name="Giải quyết", exact=True).click()
    await page.wait_for_selector(".flash-ok")
    assert "Đã giải quyết sai lệch" in await page.locator(".flash-ok").inner_text()
    assert await page.locator("#mismatch-state").inner_text() == "đã giải quyết"
    assert await page.locator("#resolve-form").count() == 0
    await shot(page, "05-resolved")

    # The dashboard's open count drops at once; the form cell once the dossier is reconciled.
    assert await open_count(page, base) == before_open - 1
    await served.syncer.reconcile_pending()
    await page.reload()
    await shot(page, "06-dashboard-after")
    doc = await report_document(served.store, served.config, period, served.scenario.now)
    expected = doc["corrected"]["total"]["cells"]["11"]
    after_pending = await form_cell(page, base, period.label, "total", 11)
    assert after_pending == expected == before_pending - 1

    # The cell's ledger: the dossiers behind it, each a link to its page.
    await page.locator(
        '#form06 tr[data-field="total"][data-figures="corrected"] td[data-column="11"] a'
    ).click()
    await page.wait_for_selector("#ledger-list")
    listed = await page.locator("#ledger-list a").all_inner_texts()
    assert target["key"] not in listed
    assert len(listed) == expected
    await shot(page, "07-report-cell")
    await page.locator("#ledger-list a").first.click()
    await page.wait_for_selector("#records")
    assert await page.locator("h1").inner_text() == f"Hồ sơ {listed[0]}"
    await shot(page, "08-dossier")

    # The resolution is in the audit log, and the dossiers due later in the period are listed.
    await page.get_by_role("link", name="Nhật ký", exact=True).click()
    await page.get_by_label("Người thực hiện").fill("operator1")
    await page.get_by_role("button", name="Lọc", exact=True).click()
    await page.wait_for_url(re.compile(r"who=operator1"))
    log_text = await page.locator("table.audit").inner_text()
    assert f"{target['key']} — trạng thái bị gộp thành đã xử lý" in log_text
    assert "đang mở → đã giải quyết: lấy theo Cổng DVCQG" in log_text
    await shot(page, "09-audit")
    await page.get_by_role("link", name="Quá hạn", exact=True).click()
    await page.get_by_label("Tính đến hết ngày").fill(period.end.isoformat())
    await page.get_by_role("button", name="Xem", exact=True).click()
    await page.wait_for_url(re.compile(r"as_of="))
    assert await page.locator("#overdue tbody tr").count() > 0
    await shot(page, "10-overdue")


async def test_a_viewer_sees_no_forms_and_a_forged_post_is_refused(
    served: Served, page: Any
) -> None:
    base = served.url
    target = await first_open(served.store, KIND)
    path = "/mismatches/" + quote(target["id"], safe="")
    await log_in(page, base, "viewer1", then=path)
    assert await page.locator("#read-only").is_visible()
    for form in ("#claim-form", "#resolve-form", "#reopen-form"):
        assert await page.locator(form).count() == 0
    await shot(page, "11-viewer-mismatch")
    csrf = await page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert csrf
    forged = await page.request.post(
        f"{base}{path}/resolve",
        form={"csrf_token": csrf, "action": "ignore", "reason": "forged"},
        max_redirects=0,
    )
    assert forged.status == 403
    stored = (await served.store.mismatch_records([target["id"]]))[target["id"]]
    assert stored["state"] == "open"


async def test_the_resolve_form_works_from_the_keyboard(served: Served, page: Any) -> None:
    base = served.url
    target = await first_open(served.store, KIND)
    path = "/mismatches/" + quote(target["id"], safe="")
    await log_in(page, base, "operator1", then=path)
    await page.goto(f"{base}{path}")

    async def focused() -> str:
        found: str = await page.evaluate(
            "() => document.activeElement.id || document.activeElement.className || ''"
        )
        return found

    await page.keyboard.press("Tab")
    assert await focused() == "skip"  # the skip link comes first, and shows when focused
    box = await page.locator("a.skip").bounding_box()
    assert box is not None
    assert box["y"] >= 0
    await page.keyboard.press("Enter")
    assert await focused() == "main"
    for _ in range(80):
        await page.keyboard.press("Tab")
        if await focused() == "action":
            break
    assert await focused() == "action"
    outline = await page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    await shot(page, "12-keyboard-focus")
    await page.keyboard.press("End")  # the last choice: ignore
    assert await page.locator("#action").input_value() == "ignore"
    await page.keyboard.press("Tab")
    assert await focused() == "value"
    await page.keyboard.press("Tab")
    assert await focused() == "reason"
    await page.keyboard.type("Hồ sơ trùng lặp, đã kiểm tra")
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.textContent.trim()") == "Giải quyết"
    await page.keyboard.press("Enter")
    await page.wait_for_selector(".flash-ok")
    stored = (await served.store.mismatch_records([target["id"]]))[target["id"]]
    assert stored["state"] == "resolved"
    assert stored["resolution"]["reason"] == "Hồ sơ trùng lặp, đã kiểm tra"

    # The English switch, on the page itself.
    await page.get_by_role("link", name="English").click()
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.locator("#mismatch-state").inner_text() == "resolved"
    await page.goto(f"{base}/")
    assert await page.get_attribute("html", "lang") == "en"
    assert "Open mismatches by kind" in await page.locator("main").inner_text()
    await shot(page, "13-dashboard-en")


def test_a_missing_browser_skips_these_tests_except_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no browser: none here"):
        no_browser("none here")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and no browser"):
        no_browser("none here")


AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"  # axe-core 4.14.1 (MPL-2.0)
PHONE, DESK = {"width": 390, "height": 844}, {"width": 1280, "height": 900}


async def tab(browser: Any, viewport: dict[str, int]) -> Any:
    # The pages forbid inline scripts (CSP); only the test's own axe-core is let in.
    context = await browser.new_context(viewport=viewport, locale="vi-VN", bypass_csp=True)
    context.set_default_timeout(10_000)
    return await context.new_page()


async def axe_violations(page: Any) -> list[str]:
    """axe-core's violations on the page, of any impact, as "rule (impact): where"."""
    await page.add_script_tag(path=str(AXE))
    found: list[str] = await page.evaluate(
        """async () => (await axe.run(document)).violations.flatMap(
            v => v.nodes.map(n => `${v.id} (${v.impact}): ${n.target.join(' ')}`))"""
    )
    return found


async def small_targets(page: Any, within: str) -> list[str]:
    """Links and buttons under `within` smaller than 24 x 24 px (WCAG 2.2, 2.5.8)."""
    found: list[str] = await page.evaluate(
        """(within) => [...document.querySelectorAll(`${within} a, ${within} button`)]
            .filter(e => e.offsetParent !== null && !e.closest('p, li:not(#ledger-list li)'))
            .map(e => [e, e.getBoundingClientRect()])
            .filter(([e, r]) => r.width < 24 || r.height < 24)
            .map(([e, r]) => `${e.textContent.trim()} ${r.width}x${r.height}`)""",
        within,
    )
    return found


async def test_every_page_has_no_axe_violation_and_works_on_a_phone(
    served: Served, browser: Any
) -> None:
    base = served.url
    target = await first_open(served.store, "migrated")
    period = Period.containing(served.scenario.now.date(), served.config.report.cutoff_day)
    desk = await tab(browser, DESK)
    await desk.goto(f"{base}/login")
    assert await axe_violations(desk) == [], "/login"
    await log_in(desk, base, "operator1")
    pages_ = [
        "/",
        "/mismatches",
        "/mismatches?kind=migrated",
        f"/mismatches/{public_id(target['id'])}",
        f"/dossiers/{quote(target['key'])}",
        "/overdue",
        "/reports",
        f"/reports/{period.label}",
        f"/reports/{period.label}?cell=total:3&figures=corrected",
        "/audit",
        "/writeback",
        "/quarantine",
        "/no-such-page",
        "/?lang=en",
        f"/reports/{period.label}?lang=en",
    ]
    for path in pages_:
        await desk.goto(f"{base}{path}")
        assert await axe_violations(desk) == [], path
    await desk.goto(f"{base}/?lang=vi")
    # At 1280 px the dashboard's figures fit their frame: column (13) is not cut off.
    wrap = desk.locator("#period-figures").locator("xpath=..")
    assert await wrap.evaluate("w => w.scrollWidth <= w.clientWidth")
    assert await desk.locator("#period-figures th", has_text="(13)").is_visible()
    await desk.goto(f"{base}/mismatches")
    await shot(desk, "20-queue-1280")
    await desk.goto(f"{base}/reports/{period.label}")
    await shot(desk, "21-report-1280")

    phone = await tab(browser, PHONE)
    await log_in(phone, base, "operator1", then="/mismatches")
    phone_pages = ("/", "/mismatches", f"/reports/{period.label}", "/overdue", "/audit")
    for path in (*phone_pages, "/writeback", "/quarantine"):
        await phone.goto(f"{base}{path}")
        assert await axe_violations(phone) == [], (path, "390 px")
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390, path
        assert await small_targets(phone, "main") == [], path
    # The queue: each row a card whose first screen shows the dossier, its kind in words and
    # the values, not only an id.
    await phone.goto(f"{base}/mismatches")
    first = phone.locator("table.stack tbody tr").first
    for cell in ("td.key a", "td:nth-child(2)", "td:nth-child(5)"):
        box = await first.locator(cell).bounding_box()
        assert box is not None, cell
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390, cell
        assert box["y"] < 844, cell
    label = await first.locator("td:nth-child(2)").evaluate(
        "td => getComputedStyle(td, '::before').content"
    )
    assert "Loại sai lệch" in label  # each value with its label
    await shot(phone, "22-queue-390")
    # The report: figures in the first screen beside the field names, which stay in view while
    # the table scrolls sideways.
    await phone.goto(f"{base}/reports/{period.label}")
    form = phone.locator("#form06")
    await form.scroll_into_view_if_needed()
    name = form.locator("tbody th.key").first
    number = form.locator('tbody tr[data-figures="corrected"] td.num a').first
    name_box, number_box = await name.bounding_box(), await number.bounding_box()
    assert name_box is not None
    assert number_box is not None
    assert number_box["x"] + number_box["width"] <= 390
    await shot(phone, "23-report-390")
    await form.locator("xpath=..").evaluate("w => { w.scrollLeft = w.scrollWidth }")
    moved = await name.bounding_box()
    assert moved is not None
    assert abs(moved["x"] - name_box["x"]) < 1  # sticky
    assert await small_targets(phone, "#form06") == []

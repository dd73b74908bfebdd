"""Every dashboard page on a phone (390 px wide) in a real Chromium: nothing overflows sideways."""

from __future__ import annotations

import io

import pytest
from django.db import connection

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

PHONE = {"width": 390, "height": 844}
# The page may scroll down, never sideways; wide tables and code scroll inside their own boxes.
OVERFLOW = """() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll("body *")].filter((el) => {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.height === 0) return false;
        for (let up = el.parentElement; up; up = up.parentElement) {
            const style = getComputedStyle(up);
            if (["auto", "scroll", "hidden"].includes(style.overflowX)) return false;
        }
        return box.right > width + 1;
    });
    return {scroll: document.documentElement.scrollWidth, width,
            wide: wide.slice(0, 5).map((el) => el.tagName + "." + el.className + ": " + (el.textContent || "").trim().slice(0, 40))};
}"""


def test_every_dashboard_page_fits_a_phone_and_links_the_api_docs(test_database, live_server_url, live_tenant, page):
    from inference.services.datasets import dataset_upload
    from tenants.services import api_key_create

    connection.set_tenant(live_tenant)
    rows = "".join(f"my card number {i} has still not arrived after weeks,card_arrival\n" for i in range(12))
    rows += "".join(f"what exchange rate do you use for payment {i},exchange_rate\n" for i in range(12))
    dataset_upload(name="support-tickets-with-a-long-name", file=io.BytesIO(f"text,label\n{rows}".encode()),
                   filename="tickets.csv", task="classification")  # fmt: skip
    dataset_upload(name="support-tickets-with-a-long-name", file=io.BytesIO(f"text,label\n{rows}x,y\n".encode()),
                   filename="tickets-2.csv", task="classification")  # fmt: skip
    api_key_create(tenant=live_tenant, name="a key with quite a long descriptive name for the CRM", scopes=["read"])
    connection.set_schema_to_public()

    _, port = live_server_url
    site = f"http://{live_tenant.slug}.localhost:{port}"
    page.set_default_timeout(20_000)
    page.set_viewport_size(PHONE)
    page.goto(site + "/accounts/login/")
    page.get_by_label("Email").fill(f"admin@{live_tenant.slug}.example")
    page.get_by_label("Password").fill("pass-live-7391")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site + "/")

    docs = page.get_by_role("link", name="API docs")
    assert docs.get_attribute("href") == "/api/v1/docs/"

    pages = [
        "/", "/datasets/", "/datasets/upload/", "/datasets/support-tickets-with-a-long-name/",
        "/datasets/support-tickets-with-a-long-name/compare/", "/datasets/support-tickets-with-a-long-name/delete/",
        "/training/", "/models/", "/playground/", "/feedback/", "/api-keys/", "/usage/", "/team/", "/audit/",
    ]  # fmt: skip
    misfits = {}
    for path in pages:
        response = page.goto(site + path)
        assert response.status == 200, path
        found = page.evaluate(OVERFLOW)
        if found["scroll"] > found["width"] or found["wide"]:
            misfits[path] = found
        # Every menu entry can be reached: the menu scrolls inside itself, it does not widen the page.
        assert page.get_by_role("link", name="Audit log").count() == 1
    assert misfits == {}

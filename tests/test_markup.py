"""Markup defects that axe-core reports as critical, checked as a class on every simple page."""

from __future__ import annotations

import re
from collections import Counter

from tests.helpers import post_form

# A Python None or bool that leaked into an attribute value (WTForms renders None as "None").
LEAKED_PYTHON_VALUE = re.compile(r'\s[a-z-]+="(None|True|False)"')


def _simple_get_urls(app) -> list[str]:
    """Every GET route that needs no URL argument: the pages an owner can open from the nav."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/static"):
            urls.append(rule.rule)
    return sorted(urls)


def _check(html: str, where: str) -> None:
    leaked = LEAKED_PYTHON_VALUE.findall(html)
    assert not leaked, f"{where}: Python value rendered into an attribute: {leaked}"
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    duplicates = [i for i, n in ids.items() if n > 1]
    assert not duplicates, f"{where}: duplicate ids {duplicates}"
    for target in re.findall(r'aria-describedby="([^"]+)"', html):
        for ref in target.split():
            assert ids.get(ref), f"{where}: aria-describedby points at missing #{ref}"


def test_no_page_renders_python_none_into_attributes(app, auth_client):
    checked = 0
    for url in _simple_get_urls(app):
        response = auth_client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            _check(response.get_data(as_text=True), url)
            checked += 1
    assert checked >= 10


def test_form_errors_are_linked_to_their_fields(app, auth_client):
    response = post_form(
        auth_client,
        "/people/new",
        {"name": "", "email": "inte-en-adress", "phone": "", "address": "", "personnummer": "1"},
    )
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html
    _check(html, "/people/new with errors")

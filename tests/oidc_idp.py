"""A throw-away OpenID Connect provider on loopback (node-oidc-provider, tests/oidc_provider.mjs): a hospital's
single sign-on with people and groups, and a browser that answers its sign-in and consent forms."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "oidc_provider.mjs"
CLIENT_ID = "cradle-nicu"
CLIENT_SECRET = "a client secret only Cradle and the provider know"
CALLBACK = "http://testserver/accounts/hospital/login/callback/"

PEOPLE = [
    {"sub": "2b9c1e2a-amina", "login": "amina", "name": "Amina Osei", "groups": ["nicu-nurses", "scn-nurses"]},
    {"sub": "5f03d7c4-jo", "login": "jo", "name": "Jo Privacy", "groups": ["nicu-privacy"]},
    {"sub": "90aa11e2-porter", "login": "porter", "name": "Pat Porter", "groups": ["canteen"]},
    # A login given again to someone new after the first "amina" left: another person, another `sub`.
    {"sub": "c41d0b77-amina-again", "login": "amina.o", "name": "Amina Okafor", "groups": ["nicu-nurses"]},
]


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen
    people: dict[str, dict] = field(default_factory=lambda: {p["login"]: dict(p) for p in PEOPLE})

    def set_groups(self, login: str, groups: list[str]) -> None:
        """The hospital's IT changes a person's groups."""
        requests.post(f"{self.issuer}/_test/people/{login}", json={"groups": groups}, timeout=5).raise_for_status()

    def spoil_next_token(self, mode: str) -> None:
        """The next token answer carries an ID token spoilt this way (tests/oidc_provider.mjs, `spoil`)."""
        requests.post(f"{self.issuer}/_test/next-token", json={"mode": mode}, timeout=5).raise_for_status()

    def spoil_next_userinfo(self) -> None:
        """The next userinfo answer is about another subject."""
        requests.post(f"{self.issuer}/_test/next-userinfo", json={}, timeout=5).raise_for_status()

    def sign(self, claims: dict) -> str:
        """A token with these claims, signed with the provider's own key."""
        return requests.post(f"{self.issuer}/_test/sign", json=claims, timeout=5).json()

    def last_id_token(self) -> str:
        return requests.get(f"{self.issuer}/_test/last-id-token", timeout=5).json()

    def sign_out(self, browser: requests.Session) -> list[str]:
        """Signs this browser out at the provider, confirming on its page; gives the back-channel logout tokens the
        provider sent to Cradle's registered address (held by the test provider for the test to deliver)."""
        requests.get(f"{self.issuer}/_test/logout-tokens", timeout=5)  # forgets those of earlier tests
        page = browser.get(f"{self.issuer}/session/end", timeout=10)
        assert page.status_code == 200, page.text[:300]
        action = urljoin(page.url, html.unescape(re.search(r'action="([^"]+)"', page.text).group(1)))
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        done = browser.post(action, data={**form, "logout": "yes"}, allow_redirects=False, timeout=10)
        assert done.status_code in (200, 302, 303), done.text[:300]
        return requests.get(f"{self.issuer}/_test/logout-tokens", timeout=5).json()

    def authorize(
        self, url: str, login: str, amr: str = "pwd", acr: str = "", browser: requests.Session | None = None
    ) -> str:
        """Follows the provider's redirects from Cradle's authorization request as a browser would, signs in as
        `login` having used the `amr` methods, allows Cradle, and gives the address the provider sends the browser
        back to."""
        browser = browser or requests.Session()
        for _ in range(12):
            if url.startswith("http://testserver/"):
                return url
            response = browser.get(url, allow_redirects=False, timeout=10)
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            assert response.status_code == 200, f"{response.status_code} {response.text[:300]}"
            # The page's one form, with its hidden fields (the provider's own self-submitting forms carry some).
            action = urljoin(url, html.unescape(re.search(r'action="([^"]+)"', response.text).group(1)))
            form = {}
            for element in re.findall(r"<input[^>]*>", response.text):
                name = re.search(r'name="([^"]*)"', element)
                value = re.search(r'value="([^"]*)"', element)
                if name:
                    form[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
            if action.endswith("/login"):
                form.update({"login": login, "amr": amr, "acr": acr})
            answer = browser.post(action, data=form, allow_redirects=False, timeout=10)
            assert answer.is_redirect, answer.text[:300]
            url = urljoin(action, answer.headers["Location"])
        raise AssertionError("the provider did not send the browser back to Cradle")


def start(folder: Path, groups_in_id_token: bool = False) -> Provider:
    """Starts the provider; with `groups_in_id_token` the groups come in the ID token, otherwise (the provider's
    default) only from its userinfo endpoint."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "oidc-provider").exists():
        pytest.fail("node and the npm package oidc-provider are needed (run `make setup`, which runs `npm ci`).")
    settings = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [CALLBACK],
        "people": PEOPLE,
        "groups_in_id_token": groups_in_id_token,
    }
    log = folder / "provider.log"
    with log.open("w") as errors:
        process = subprocess.Popen(
            [node, str(SCRIPT)],
            cwd=ROOT,
            env={**os.environ, "OIDC_TEST_SETTINGS": json.dumps(settings)},
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError(f"the OpenID Connect provider did not start: {log.read_text()[-800:]}")
    return Provider(json.loads(line)["issuer"], process)


def stop(provider: Provider) -> None:
    provider.process.terminate()
    try:
        provider.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        provider.process.kill()
    provider.process.stdout.close()


def path_of(url: str) -> str:
    """The path and query of an address on Cradle's test server, for Django's test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path

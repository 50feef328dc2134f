"""The drill's clients: threads that read the partner API, open the board's pages and write updates as staff.

Each client picks a kind of work by weight until the time is up and times every request it makes. Nothing
is retried: a request that fails is counted as it failed (status 0 for a connection that failed), so a
server error during a fault is never hidden by a second attempt.
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

from tests.drill.data import Actors, Target

PARTNER_READ = "partner read"
BOARD_PAGE = "board page"
STAFF_WRITE = "staff write"
SIGN_IN = "board sign-in"
KINDS = (PARTNER_READ, BOARD_PAGE, STAFF_WRITE)
WEIGHTS = (5, 3, 2)
TIMEOUT = 60.0
NARRATIVE = "Fault drill: restates the commitment's current delivery state; nothing about delivery changes."


@dataclass(frozen=True)
class Sample:
    """One request: what it was, its status (0: no answer), how long it took, when it started (s into the run)."""

    kind: str
    method: str
    path: str
    status: int
    ms: float
    at: float


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage | None
    body: bytes


@dataclass
class Recorder:
    """What every client saw, shared between the threads."""

    started: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    approved: list[str] = field(default_factory=list)  # uuids whose approval was answered 2xx
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        """Keep one sample."""
        with self.lock:
            self.samples.append(sample)

    def approval(self, uuid: str) -> None:
        """Keep the uuid of an update whose approval was answered 2xx."""
        with self.lock:
            self.approved.append(uuid)


class Slots:
    """Hands out (commitment, as-of day) pairs never used before: one statement per commitment and day."""

    def __init__(self, targets: list[Target], *, today: date, days_back: int = 60) -> None:
        if not targets:
            raise RuntimeError("No commitment to write updates of: is the Sector Deal data seeded?")
        self.targets = targets
        self.first_day = today - timedelta(days=days_back)
        self.today = today
        self.counter = itertools.count()
        self.lock = threading.Lock()

    def take(self) -> tuple[Target, date] | None:
        """The next free pair, or None once every day up to today is used."""
        with self.lock:
            number = next(self.counter)
        day = self.first_day + timedelta(days=number // len(self.targets))
        return None if day > self.today else (self.targets[number % len(self.targets)], day)


class Client(threading.Thread):
    """One client: a loop of requests of a kind chosen by weight, until ``deadline`` (monotonic)."""

    def __init__(
        self, index: int, *, host: str, port: int, actors: Actors, slots: Slots, recorder: Recorder, deadline: float
    ) -> None:
        super().__init__(name=f"drill-client-{index}", daemon=True)
        self.host, self.port = host, port
        self.actors, self.slots, self.recorder, self.deadline = actors, slots, recorder, deadline
        self.random = random.Random(index)  # noqa: S311 - choosing work, not secrets
        self.editor = actors.editor_tokens[index % len(actors.editor_tokens)]
        self.cookies: dict[str, str] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        """Work until the deadline; an exception in the client itself (not the server) is kept for the report."""
        try:
            while time.monotonic() < self.deadline:
                kind = self.random.choices(KINDS, WEIGHTS)[0]
                if kind == PARTNER_READ:
                    self.partner_read()
                elif kind == BOARD_PAGE:
                    self.board_page()
                else:
                    self.staff_write()
        except BaseException as error:  # reported, never swallowed
            self.error = error

    # --- HTTP ---------------------------------------------------------------------------------------

    def request(
        self, kind: str, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> Answer:
        """One request on a new connection, timed and recorded; status 0 if no answer came."""
        begun = time.monotonic()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.read())
        except (OSError, http.client.HTTPException):
            answer = Answer(0, None, b"")
        finally:
            connection.close()
        ended = time.monotonic()
        self.recorder.add(
            Sample(kind, method, path, answer.status, (ended - begun) * 1000, begun - self.recorder.started)
        )
        return answer

    def api(self, kind: str, method: str, path: str, token: str, **options: Any) -> Answer:
        """An API request with ``token``; ``json`` is sent as the body, ``if_match`` as If-Match."""
        headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        body = None
        if "json" in options:
            body = json.dumps(options["json"]).encode()
            headers["Content-Type"] = "application/json"
        if options.get("if_match"):
            headers["If-Match"] = options["if_match"]
        return self.request(kind, method, path, headers=headers, body=body)

    # --- the kinds of work --------------------------------------------------------------------------

    def partner_read(self) -> None:
        """A list, a detail or the figures of the deal, as a partner with a token."""
        ref = self.random.choice(self.actors.commitment_refs)
        path = self.random.choice(
            [
                "/api/v1/commitments/",
                f"/api/v1/commitments/{ref}/",
                f"/api/v1/metrics/?scope_type=deal&scope_key={self.actors.deal_code}",
            ]
        )
        self.api(PARTNER_READ, "GET", path, self.actors.partner_token)

    def _cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def _keep_cookies(self, answer: Answer) -> None:
        # The cookies are Secure under production settings; this client sends them over loopback HTTP anyway.
        for header in answer.headers.get_all("Set-Cookie", []) if answer.headers else []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value

    def sign_in(self) -> bool:
        """Sign the board member in through the form (CSRF token from the page and its cookie)."""
        self.cookies.clear()
        form = self.request(SIGN_IN, "GET", "/accounts/login/")
        self._keep_cookies(form)
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body)
        if form.status != 200 or match is None:
            return False
        body = urlencode(
            {
                "username": self.actors.board_username,
                "password": self.actors.board_password,
                "csrfmiddlewaretoken": match[1].decode(),
            }
        ).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": self._cookie_header()}
        answer = self.request(SIGN_IN, "POST", "/accounts/login/", headers=headers, body=body)
        self._keep_cookies(answer)
        return answer.status == 302 and "sessionid" in self.cookies

    def board_page(self) -> None:
        """The overview, a theme's page or the board pack (HTML), as a signed-in board member."""
        if "sessionid" not in self.cookies and not self.sign_in():
            return
        path = self.random.choice(["/", self.actors.theme_path, "/board-pack/"])
        answer = self.request(BOARD_PAGE, "GET", path, headers={"Cookie": self._cookie_header()})
        if answer.status == 302:  # signed out: sign in again next time (the 302 is counted as an error)
            self.cookies.pop("sessionid", None)

    def staff_write(self) -> None:
        """An editor writes a draft and submits it; a reviewer (never its author) approves it, each with If-Match."""
        slot = self.slots.take()
        if slot is None:
            return
        target, day = slot
        draft = self.api(
            STAFF_WRITE,
            "POST",
            "/api/v1/updates/",
            self.editor,
            json={
                "commitment": target.reference,
                "as_of": day.isoformat(),
                "status": target.status,
                "confidence": target.confidence,
                "progress": target.progress,
                "narrative": NARRATIVE,
            },
        )
        if draft.status != 201 or draft.headers is None:
            return
        uuid = json.loads(draft.body)["uuid"]
        submitted = self.api(
            STAFF_WRITE, "POST", f"/api/v1/updates/{uuid}/submit/", self.editor, json={}, if_match=draft.headers["ETag"]
        )
        if submitted.status != 200 or submitted.headers is None:
            return
        reviewer = self.random.choice(self.actors.reviewer_tokens)
        approved = self.api(
            STAFF_WRITE,
            "POST",
            f"/api/v1/updates/{uuid}/approve/",
            reviewer,
            json={},
            if_match=submitted.headers["ETag"],
        )
        if 200 <= approved.status < 300:
            self.recorder.approval(uuid)


def run_clients(
    *, host: str, port: int, actors: Actors, clients: int, seconds: float, recorder: Recorder, today: date
) -> list[Client]:
    """Start ``clients`` threads that work for ``seconds``; return them (join them to wait for the end)."""
    slots = Slots(actors.targets, today=today)
    deadline = recorder.started + seconds
    threads = [
        Client(index, host=host, port=port, actors=actors, slots=slots, recorder=recorder, deadline=deadline)
        for index in range(clients)
    ]
    for thread in threads:
        thread.start()
    return threads

"""The driver: each effect performed through its port, and the notices a person is shown on the way."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from hyperframes_auth.domain import flow as f
from hyperframes_auth.domain.callback import Verdict
from hyperframes_auth.domain.driver import execute, run
from hyperframes_auth.domain.errors import AuthError, TransportError
from hyperframes_auth.domain.messages import start_auth_code_flow
from hyperframes_auth.domain.ports import BrowserOpening, BrowserUnavailable, CallbackIgnored, WaitingForCallback
from hyperframes_auth.domain.retry import jitter
from tests.fakes import CONFIG, FakeListener, World, counter_entropy


class TimedListener(FakeListener):
    """A fake listener that remembers how long it was asked to wait, and can answer with a verdict of its own."""

    def __init__(self, verdict: Verdict | None = None) -> None:
        super().__init__()
        self.timeouts: list[float] = []
        self.verdict = verdict

    def wait(self, judge, timeout):
        self.timeouts.append(timeout)
        return self.verdict or super().wait(judge, timeout)


def flow() -> f.AuthCodeFlow:
    return start_auth_code_flow(CONFIG, "http://127.0.0.1:4567/oauth/callback", counter_entropy())


def test_the_browser_is_sent_to_the_authorization_url_and_the_person_told_where():
    world = World()
    world.browser.user = None  # nobody at the browser: this test only looks at what was opened
    url = "https://auth.test/oauth/authorize?a=1?b"
    assert execute(f.OpenBrowser(url), world.ports) is None
    assert world.browser.urls == [url]
    assert world.notices == [BrowserOpening("https://auth.test/oauth/authorize", url)]
    assert world.notices[0].url == url


def test_without_a_browser_the_person_is_given_the_url():
    world = World()
    world.browser.opens = False
    execute(f.OpenBrowser("https://auth.test/oauth/authorize?x=1"), world.ports)
    assert world.notices[-1] == BrowserUnavailable("https://auth.test/oauth/authorize?x=1")
    assert world.notices[-1].url == "https://auth.test/oauth/authorize?x=1"


def test_waiting_for_the_callback_says_where_for_how_long_and_takes_a_pasted_url():
    world = World()
    listener = TimedListener()
    current = flow()
    query = world.server.approve(current.authorize_url)
    listener.deliver(query)
    event = execute(f.AwaitCallback(current, 42.0), world.ports, listener)
    assert event == f.CallbackAccepted(query["code"], query.get("iss"))
    assert listener.timeouts == [42.0]
    (waiting,) = [n for n in world.notices if isinstance(n, WaitingForCallback)]
    assert (waiting.redirect_uri, waiting.timeout) == (listener.redirect_uri, 42.0)
    assert not [n for n in world.notices if isinstance(n, CallbackIgnored)]
    waiting.submit(f"{listener.redirect_uri}?state=pasted&code=c1")
    assert listener.queue == [{"state": ["pasted"], "code": ["c1"]}]
    waiting.submit("http://127.0.0.1:9999/elsewhere?state=pasted&code=c2")
    assert listener.queue[-1] == {}


def test_an_ignored_callback_is_reported_with_its_reason():
    world = World()
    listener = TimedListener()
    listener.deliver({"state": "forged", "code": "x"})
    event = execute(f.AwaitCallback(flow(), 5.0), world.ports, listener)
    assert event == f.CallbackTimedOut(5.0)
    assert [n for n in world.notices if isinstance(n, CallbackIgnored)] == [
        CallbackIgnored("ignored a callback whose state does not match this sign-in")
    ]


@pytest.mark.parametrize(
    ("verdict", "event"),
    [
        (Verdict(kind="accepted", code="c", iss="https://auth.test"), f.CallbackAccepted("c", "https://auth.test")),
        (Verdict(kind="accepted", code=""), f.CallbackTimedOut(9.0)),
        (Verdict(kind="timeout", code="c"), f.CallbackTimedOut(9.0)),
        (Verdict(kind="errored", error="access_denied", description="no"), f.CallbackErrored("access_denied", "no")),
        (Verdict(kind="errored"), f.CallbackErrored("error", None)),
    ],
    ids=["accepted", "accepted-without-code", "timeout", "errored", "errored-without-error"],
)
def test_what_each_verdict_becomes(verdict, event):
    assert execute(f.AwaitCallback(flow(), 9.0), World().ports, TimedListener(verdict)) == event


def test_a_browser_sign_in_needs_a_listener():
    with pytest.raises(AuthError) as caught:
        execute(f.AwaitCallback(flow(), 9.0), World().ports, None)
    assert caught.value.message == "Internal error: a browser sign-in ran without a callback listener"


def test_a_retry_wait_is_shortened_at_random_and_a_polling_wait_is_not():
    world = World()
    ports = attrs.evolve(world.ports, entropy=lambda n: bytes(range(1, n + 1)))
    assert execute(f.Wait(8.0, jitter=True), ports) == f.Waited()
    assert execute(f.Wait(5.0), ports) == f.Waited()
    assert world.clock.sleeps == [jitter(8.0, b"\x01\x02"), 5.0]


def test_a_device_code_and_remarks_are_passed_on():
    world = World()
    device = f.DeviceAuthorization(
        device_code="dc",
        user_code="ABCD",
        verification_uri="https://auth.test/device",
        verification_uri_complete=None,
        expires_in=600,
        interval=5,
    )
    assert execute(f.ShowDeviceCode(device), world.ports) is None
    assert execute(f.Remark("noted"), world.ports) is None
    assert world.notices[-1] == f.Remark("noted")
    assert world.notices[-2].device == device


def test_a_whole_browser_sign_in_notices_in_order():
    world = World()
    state = run(CONFIG, world.ports, f.StartBrowserLogin(flow()), world.listener)
    assert isinstance(state, f.SignedIn)
    assert [type(n) for n in world.notices] == [BrowserOpening, WaitingForCallback]


class FailsOnce:
    """The fake server, except that the first request fails with ``error``."""

    def __init__(self, world: World, error: Exception) -> None:
        self.world, self.error, self.sent = world, error, 0

    def send(self, request):
        self.sent += 1
        if self.sent == 1:
            raise self.error
        return self.world.server.send(request)


def test_a_refresh_that_never_left_is_sent_again_and_one_that_may_have_is_not():
    world = World()
    world.service.login_browser()
    refresh_token = world.store.doc.oauth.refresh_token
    never = FailsOnce(world, TransportError("auth.test", "connection refused", sent=False))
    state = run(
        CONFIG, world.ports_with(never), f.StartRefresh(refresh_token, world.clock.now() + timedelta(seconds=30))
    )
    assert isinstance(state, f.SignedIn)
    assert never.sent == 2
    maybe = FailsOnce(world, TransportError("auth.test", "reset", sent=True))
    state = run(CONFIG, world.ports_with(maybe), f.StartRefresh("rt-x", world.clock.now() + timedelta(seconds=30)))
    assert isinstance(state, f.Failed)
    assert maybe.sent == 1


def test_an_ascii_url_with_a_space_is_encoded_character_by_character():
    from hyperframes_auth.domain.http import HttpRequest

    assert HttpRequest("GET", "https://a.test/! ~").url == "https://a.test/!%20~"


def test_a_transport_error_that_is_not_a_network_error_never_resends_a_refresh():
    # The port raises only TransportError, which says whether the request left; anything else must count as sent.
    world = World()
    odd = FailsOnce(world, AuthError("the transport refused the request"))
    state = run(CONFIG, world.ports_with(odd), f.StartRefresh("rt-x", world.clock.now() + timedelta(seconds=30)))
    assert isinstance(state, f.Failed)
    assert state.error.message == "the transport refused the request"
    assert odd.sent == 1

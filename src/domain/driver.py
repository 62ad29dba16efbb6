"""The driver: runs the state machine, performing each effect through a port and feeding events back.

It is the only place where the machine meets the outside world, and it is small on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from .callback import Verdict, judge
from .errors import AuthError
from .machine import (
    AwaitCallback,
    CallbackAccepted,
    CallbackErrored,
    CallbackTimedOut,
    ClientConfig,
    DeviceAuthorization,
    Effect,
    Event,
    HttpAnswered,
    HttpFailed,
    Idle,
    Note,
    OpenBrowser,
    SendHttp,
    ShowDeviceCode,
    State,
    Wait,
    Waited,
    step,
)
from .ports import CallbackListener

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .service import Ports

# ---------------------------------------------------------------------------------------------- notices


@attrs.frozen
class BrowserOpening:
    """About to send the browser to ``endpoint`` (the authorization endpoint without its query)."""

    endpoint: str
    url: str = attrs.field(repr=False)


@attrs.frozen
class BrowserUnavailable:
    """No browser could be opened: the person must open ``url`` by hand."""

    url: str = attrs.field(repr=False)


@attrs.frozen
class WaitingForCallback:
    redirect_uri: str


@attrs.frozen
class CallbackIgnored:
    reason: str


@attrs.frozen
class DeviceCodeIssued:
    device: DeviceAuthorization


@attrs.frozen
class Remark:
    message: str


Notice = BrowserOpening | BrowserUnavailable | WaitingForCallback | CallbackIgnored | DeviceCodeIssued | Remark
Notify = Callable[[Notice], None]


# ---------------------------------------------------------------------------------------------- execution


def _verdict_event(verdict: Verdict, timeout: float) -> Event:
    if verdict.kind == "accepted" and verdict.code:
        return CallbackAccepted(verdict.code, verdict.iss)
    if verdict.kind == "errored":
        return CallbackErrored(verdict.error or "error", verdict.description)
    return CallbackTimedOut(timeout)


def _await_callback(effect: AwaitCallback, ports: Ports, listener: CallbackListener | None) -> Event:
    if listener is None:
        raise AuthError("Internal error: a browser sign-in ran without a callback listener")
    ports.notify(WaitingForCallback(listener.redirect_uri))

    def judged(query: Mapping[str, list[str]]) -> Verdict:
        verdict = judge(effect.flow.state, query)
        if verdict.kind == "ignored" and verdict.reason:
            ports.notify(CallbackIgnored(verdict.reason))
        return verdict

    return _verdict_event(listener.wait(judged, effect.timeout), effect.timeout)


def _send(effect: SendHttp, ports: Ports) -> Event:
    try:
        return HttpAnswered(ports.http.send(effect.request))
    except AuthError as exc:
        return HttpFailed(exc)


def _open_browser(effect: OpenBrowser, ports: Ports) -> None:
    ports.notify(BrowserOpening(effect.url.split("?", 1)[0], effect.url))
    if not ports.browser(effect.url):
        ports.notify(BrowserUnavailable(effect.url))


def execute(effect: Effect, ports: Ports, listener: CallbackListener | None = None) -> Event | None:
    """Perform one effect; return the event it produced, if any."""
    match effect:
        case OpenBrowser():
            _open_browser(effect, ports)
        case AwaitCallback():
            return _await_callback(effect, ports, listener)
        case SendHttp():
            return _send(effect, ports)
        case ShowDeviceCode():
            ports.notify(DeviceCodeIssued(effect.device))
        case Wait():
            ports.clock.sleep(effect.seconds)
            return Waited()
        case Note():
            ports.notify(Remark(effect.message))
    return None


def run(
    config: ClientConfig,
    ports: Ports,
    event: Event,
    listener: CallbackListener | None = None,
    state: State | None = None,
) -> State:
    """Run the machine from ``state`` (``Idle`` by default) on ``event`` until no effect yields an event."""
    current: State = state if state is not None else Idle()
    pending: list[Event] = [event]
    while pending:
        current, effects = step(config, current, pending.pop(0), ports.clock.now())
        for effect in effects:
            produced = execute(effect, ports, listener)
            if produced is not None:
                pending.append(produced)
    return current

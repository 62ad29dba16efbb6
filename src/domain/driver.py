"""The driver: runs the state machine, performing each effect through a port and feeding events back.

It is the only place where the machine meets the outside world, and it is small on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import retry
from .client import ClientConfig
from .errors import AuthError
from .flow import (
    AwaitCallback,
    CallbackAccepted,
    CallbackErrored,
    CallbackTimedOut,
    Effect,
    Event,
    HttpAnswered,
    HttpFailed,
    Idle,
    OpenBrowser,
    Remark,
    SendHttp,
    ShowDeviceCode,
    SignedIn,
    State,
    Wait,
    Waited,
)
from .machine import step
from .ports import (
    BrowserOpening,
    BrowserUnavailable,
    CallbackIgnored,
    CallbackListener,
    DeviceCodeIssued,
    Guard,
    Ports,
    WaitingForCallback,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .callback import Verdict


def _verdict_event(verdict: Verdict, timeout: float) -> Event:
    if verdict.kind == "accepted" and verdict.code:
        return CallbackAccepted(verdict.code, verdict.iss)
    if verdict.kind == "errored":
        return CallbackErrored(verdict.error or "error", verdict.description)
    return CallbackTimedOut(timeout)


def _await_callback(effect: AwaitCallback, ports: Ports, listener: CallbackListener | None) -> Event:
    if listener is None:
        raise AuthError("Internal error: a browser sign-in ran without a callback listener")
    from .callback import judge, pasted_query  # only a browser sign-in waits for a callback

    uri = listener.redirect_uri
    ports.notify(WaitingForCallback(uri, effect.timeout, lambda text: listener.submit(pasted_query(text, uri))))

    def judged(query: Mapping[str, list[str]]) -> Verdict:
        verdict = judge(effect.flow.state, query)
        if verdict.kind == "ignored" and verdict.reason:
            ports.notify(CallbackIgnored(verdict.reason))
        return verdict

    return _verdict_event(listener.wait(judged, effect.timeout), effect.timeout)


def _send(effect: SendHttp, ports: Ports, secrets: tuple[str, ...], guard: Guard | None) -> Event:
    if effect.spends and guard is not None:
        guard.arm()
    try:
        response = ports.http.send(effect.request)
    except AuthError as exc:
        return HttpFailed(exc, sent=bool(getattr(exc, "sent", True)))
    return HttpAnswered(response, (*effect.request.secrets(), *secrets))


def _open_browser(effect: OpenBrowser, ports: Ports) -> None:
    ports.notify(BrowserOpening(effect.url.split("?", 1)[0], effect.url))
    if not ports.browser(effect.url):
        ports.notify(BrowserUnavailable(effect.url))


def _wait(effect: Wait, ports: Ports) -> Event:
    ports.clock.sleep(retry.jitter(effect.seconds, ports.entropy(2)) if effect.jitter else effect.seconds)
    return Waited()


def execute(
    effect: Effect,
    ports: Ports,
    listener: CallbackListener | None = None,
    secrets: tuple[str, ...] = (),
    guard: Guard | None = None,
) -> Event | None:
    """Perform one effect; return the event it produced, if any."""
    match effect:
        case OpenBrowser():
            _open_browser(effect, ports)
        case AwaitCallback():
            return _await_callback(effect, ports, listener)
        case SendHttp():
            return _send(effect, ports, secrets, guard)
        case ShowDeviceCode():
            ports.notify(DeviceCodeIssued(effect.device))
        case Wait():
            return _wait(effect, ports)
        case Remark():
            ports.notify(effect)
    return None


def run(
    config: ClientConfig,
    ports: Ports,
    event: Event,
    listener: CallbackListener | None = None,
    secrets: tuple[str, ...] = (),
    guard: Guard | None = None,
) -> State:
    """Run the machine from ``Idle`` on ``event`` until no effect yields an event.

    Args:
        secrets: secrets the caller holds, redacted (with each request's own) from any text a server sends back.
        guard: armed while a spending request is out; disarmed again when its answer brought no tokens (tokens
            must first be saved by the caller, who then leaves the guard's context).
    """
    current: State = Idle()
    pending: list[Event] = [event]
    while pending:
        event = pending.pop(0)
        current, effects = step(config, current, event, ports.clock.now())
        if guard is not None and isinstance(event, HttpAnswered | HttpFailed) and not isinstance(current, SignedIn):
            guard.disarm()
        for effect in effects:
            produced = execute(effect, ports, listener, secrets, guard)
            if produced is not None:
                pending.append(produced)
    return current

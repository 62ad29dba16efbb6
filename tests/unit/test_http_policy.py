"""The transports' shared rules (``http_policy``), without sockets: proxies and NO_PROXY, request targets, the
deadline and the body, redirects, the trace line, and the transport errors."""

from __future__ import annotations

import base64

import pytest

from hyperframes_auth.adapters import http_policy as p
from hyperframes_auth.domain import errors as e
from hyperframes_auth.domain.http import HttpRequest, HttpResponse


class Ticks:
    """A clock for the deadline functions: each call returns the next value."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)

    def __call__(self) -> float:
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


# ---------------------------------------------------------------------------------------------- proxy selection


def chosen(url: str, **env: str) -> str | None:
    proxy = p.select_proxy(url, env)
    return None if proxy is None else f"{proxy.display} {proxy.variable}"


def test_no_variable_means_direct():
    assert chosen("https://api.heygen.com/v3/users/me") is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HTTPS_PROXY": "http://a:1"}, "a:1 HTTPS_PROXY"),
        ({"https_proxy": "http://a:1", "HTTPS_PROXY": "http://b:2"}, "a:1 https_proxy"),
        ({"https_proxy": "", "HTTPS_PROXY": "http://b:2"}, None),  # an empty lower-case variable turns it off
        ({"ALL_PROXY": "http://c:3"}, "c:3 ALL_PROXY"),
        ({"all_proxy": "http://c:3", "ALL_PROXY": "http://d:4"}, "c:3 all_proxy"),
        ({"HTTPS_PROXY": "http://a:1", "ALL_PROXY": "http://c:3"}, "a:1 HTTPS_PROXY"),
        ({"HTTP_PROXY": "http://a:1"}, None),  # the http variable is not for https URLs
        ({"HTTPS_PROXY": "proxy.corp:3128"}, "proxy.corp:3128 HTTPS_PROXY"),  # no scheme: http, as curl reads it
        ({"HTTPS_PROXY": "http://proxy.corp"}, "proxy.corp:80 HTTPS_PROXY"),
        ({"HTTPS_PROXY": "  http://a:1  "}, "a:1 HTTPS_PROXY"),
        ({"HTTPS_PROXY": "http://[::1]:3128"}, "[::1]:3128 HTTPS_PROXY"),
    ],
)
def test_which_variable_names_the_proxy_for_https(env, expected):
    assert chosen("https://api.heygen.com/v3/users/me", **env) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"http_proxy": "http://a:1"}, "a:1 http_proxy"),
        ({"HTTP_PROXY": "http://b:2"}, "b:2 HTTP_PROXY"),
        ({"HTTP_PROXY": "http://b:2", "REQUEST_METHOD": "GET"}, None),  # CGI: HTTP_PROXY may be a request header
        ({"http_proxy": "http://a:1", "REQUEST_METHOD": "GET"}, "a:1 http_proxy"),
        ({"HTTPS_PROXY": "http://a:1"}, None),
    ],
)
def test_which_variable_names_the_proxy_for_http(env, expected):
    assert chosen("http://127.0.0.1:8080/token", **env) == expected


def test_proxy_credentials_become_a_basic_header_and_stay_out_of_sight():
    proxy = p.select_proxy("https://x.test/", {"HTTPS_PROXY": "http://us%40er:p%3Ass%2F@proxy:3128"})
    assert proxy is not None
    assert proxy.authorization == "Basic " + base64.b64encode(b"us@er:p:ss/").decode()
    assert (proxy.url, proxy.display) == ("http://proxy:3128", "proxy:3128")
    for text in (repr(proxy), proxy.url, proxy.display):
        assert "p:ss" not in text
        assert "p%3Ass" not in text
        assert "us@er" not in text
    assert repr(proxy) == "Proxy(proxy:3128 from HTTPS_PROXY, with credentials)"


def test_a_user_without_password_still_authenticates():
    proxy = p.parse_proxy("http://only-user@proxy:8080", "HTTPS_PROXY")
    assert proxy.authorization == "Basic " + base64.b64encode(b"only-user:").decode()
    assert p.parse_proxy("http://proxy:8080", "HTTPS_PROXY").authorization is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("socks5h://u:secret@proxy:1080", "The proxy proxy:1080 (from V) uses socks5h://, which"),
        ("https://proxy:443", "The proxy proxy:443 (from V) uses https://"),
        ("http://u:secret@proxy:notaport", "The proxy in V is not a valid proxy URL"),
        ("http://u:secret@:3128", "The proxy in V is not a valid proxy URL"),
        ("http://prox y:3128", "The proxy in V is not a valid proxy URL"),
        ("http://pröxy:3128", "The proxy in V is not a valid proxy URL"),
    ],
)
def test_unusable_proxy_values_are_refused_without_repeating_them(value, message):
    with pytest.raises(e.ProxyError) as info:
        p.parse_proxy(value, "V")
    assert info.value.message.startswith(message)
    assert "secret" not in info.value.message
    assert info.value.sent is False
    assert info.value.hint is not None
    assert "V" in info.value.hint


def test_proxies_compare_by_where_and_how_they_connect():
    one = p.parse_proxy("http://u:pw@proxy:1", "HTTPS_PROXY")
    assert one == p.parse_proxy("http://u:pw@proxy:1", "HTTPS_PROXY")
    assert one != p.parse_proxy("http://u:other@proxy:1", "HTTPS_PROXY")
    assert one != "proxy:1"
    assert len({one, p.parse_proxy("http://u:pw@proxy:1", "HTTPS_PROXY")}) == 1


# ---------------------------------------------------------------------------------------------- NO_PROXY


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypass"),
    [
        ("api.heygen.com", 443, "heygen.com", True),  # a bare domain matches its subdomains
        ("heygen.com", 443, "heygen.com", True),
        ("api.heygen.com", 443, ".heygen.com", True),  # a leading dot changes nothing (curl, urllib)
        ("heygen.com", 443, ".heygen.com", True),
        ("notheygen.com", 443, "heygen.com", False),  # only on a dot boundary
        ("heygen.com.evil", 443, "heygen.com", False),
        ("API.HeyGen.com", 443, "heygen.COM", True),
        ("api.heygen.com.", 443, "heygen.com", True),  # a trailing dot is the same name
        ("api.heygen.com", 443, "*", True),
        ("api.heygen.com", 443, "example.com, *", True),
        ("api.heygen.com", 443, "*.heygen.com", False),  # globs are not NO_PROXY syntax
        ("api.heygen.com", 443, "example.com,heygen.com", True),
        ("api.heygen.com", 443, "example.com heygen.com", True),  # curl accepts spaces too
        ("api.heygen.com", 443, " , ,", False),
        ("api.heygen.com", 443, "heygen.com:443", True),
        ("api.heygen.com", 8443, "heygen.com:443", False),
        ("api.heygen.com", 443, "heygen.com:x", False),
        ("10.1.2.3", 443, "10.1.2.3", True),
        ("10.1.2.3", 443, "10.1.2.4", False),
        ("10.1.2.3", 443, "1.2.3", False),  # no suffix match on addresses
        ("10.1.2.3", 443, "10.0.0.0/8", True),
        ("11.1.2.3", 443, "10.0.0.0/8", False),
        ("10.1.2.3", 443, "10.0.0.0/nonsense", False),
        ("api.heygen.com", 443, "10.0.0.0/8", False),
        ("::1", 443, "::1", True),
        ("[::1]", 443, "[::1]:443", True),
        ("::1", 8080, "[::1]:443", False),
        ("::1", 443, "::2", False),
        ("2001:db8::1", 443, "2001:db8::/32", True),
        ("localhost", 443, "127.0.0.1", False),  # no name resolution
        ("127.0.0.1", 443, "localhost", False),
        ("1password.com", 443, "1password.com", True),  # a name that starts with a digit is still a name
    ],
)
def test_no_proxy_matching(host, port, no_proxy, bypass):
    assert p.bypasses_proxy(host, port, no_proxy) is bypass


def test_no_proxy_lower_case_wins_and_the_default_port_counts():
    proxy = {"HTTPS_PROXY": "http://proxy:3128"}
    assert chosen("https://api.heygen.com/", **proxy, no_proxy="heygen.com", NO_PROXY="other.com") is None
    assert chosen("https://api.heygen.com/", **proxy, NO_PROXY="heygen.com:443") is None
    assert chosen("https://api.heygen.com:8443/", **proxy, NO_PROXY="heygen.com:443") == "proxy:3128 HTTPS_PROXY"
    assert chosen("https://api.heygen.com/", **proxy, NO_PROXY="") == "proxy:3128 HTTPS_PROXY"


def test_a_bypassed_host_never_reads_the_proxy_value():
    assert p.select_proxy("https://api.heygen.com/", {"HTTPS_PROXY": "socks5://x", "NO_PROXY": "*"}) is None


# ---------------------------------------------------------------------------------------------- request line


@pytest.mark.parametrize(
    ("url", "host", "origin", "absolute", "tunnel"),
    [
        (
            "https://api.test/v3/users/me?x=1",
            "api.test",
            "/v3/users/me?x=1",
            "https://api.test/v3/users/me?x=1",
            "api.test:443",
        ),
        ("http://127.0.0.1:8080", "127.0.0.1:8080", "/", "http://127.0.0.1:8080/", "127.0.0.1:8080"),
        ("http://127.0.0.1:80/a", "127.0.0.1", "/a", "http://127.0.0.1/a", "127.0.0.1:80"),
        ("https://api.test:443/a", "api.test", "/a", "https://api.test/a", "api.test:443"),
        ("http://[::1]:9000/t", "[::1]:9000", "/t", "http://[::1]:9000/t", "[::1]:9000"),
        ("https://API.Test/a", "api.test", "/a", "https://api.test/a", "api.test:443"),
    ],
)
def test_request_lines(url, host, origin, absolute, tunnel):
    assert p.host_header(url) == host
    assert p.request_target(url, absolute=False) == origin
    assert p.request_target(url, absolute=True) == absolute
    assert p.tunnel_target(url) == tunnel


def test_the_connect_request_carries_the_credentials_only_to_the_proxy():
    proxy = p.parse_proxy("http://u:pw@proxy:3128", "HTTPS_PROXY")
    request = p.connect_request("api.test:443", proxy)
    assert request == (
        b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\nProxy-Authorization: "
        + proxy.authorization.encode()  # type: ignore[union-attr]
        + b"\r\n\r\n"
    )
    plain = p.connect_request("api.test:443", p.parse_proxy("http://proxy:3128", "HTTPS_PROXY"))
    assert plain == b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n"


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"HTTP/1.1 200 Connection established\r\n\r\n", 200),
        (b"HTTP/1.0 200\r\n\r\n", 200),
        (b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n", 407),
        (b"SSH-2.0-OpenSSH\r\n\r\n", None),
        (b"HTTP/1.1 2000 x\r\n\r\n", None),
        (b"HTTP/2 200\r\n\r\n", None),
        (b"\r\n\r\n", None),
    ],
)
def test_the_proxy_reply_status(head, status):
    assert p.proxy_reply_status(head) == status


def test_proxy_refusals_say_what_to_fix():
    with_creds = p.parse_proxy("http://u:pw@proxy:1", "HTTPS_PROXY")
    without = p.parse_proxy("http://proxy:1", "https_proxy")
    assert p.proxy_refusal(with_creds, 407, "api.test:443").message == (
        "The proxy proxy:1 (from HTTPS_PROXY) refused the user and password (407)"
    )
    assert p.proxy_refusal(without, 407, "api.test:443").message == (
        "The proxy proxy:1 (from https_proxy) asks for a user and password (407)"
    )
    refused = p.proxy_refusal(without, 403, "api.test:443")
    assert refused.message == "The proxy proxy:1 (from https_proxy) refused to open a tunnel to api.test:443 (403)"
    assert refused.hint is not None
    assert refused.hint.startswith("Check https_proxy")


# ---------------------------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/token", "non-https"),
        ("ftp://127.0.0.1/x", "non-https"),
        ("https://user:pw@api.test/", "user name or password"),
        ("https://api.test/a b", "spaces, control or non-ASCII"),
        ("https://api.test/\x1b[2J", "spaces, control or non-ASCII"),
        ("https://api.test/\u202e", "spaces, control or non-ASCII"),
        ("https://api.test:99999/", "not a valid URL"),
        ("https://[::1/", "not a valid URL"),
    ],
)
def test_unacceptable_urls_are_refused_before_anything_is_sent(url, reason):
    with pytest.raises(e.TransportError, match=reason) as info:
        p.check_url(url)
    assert info.value.sent is False
    assert "pw" not in info.value.message


@pytest.mark.parametrize("url", ["https://api.test/x", "http://127.0.0.1:1/x", "http://localhost/x", "http://[::1]/x"])
def test_acceptable_urls(url):
    p.check_url(url)


def test_host_of_never_shows_credentials():
    assert p.host_of("https://user:pw@api.test:8443/x") == "api.test:8443"
    assert p.host_of("https://api.test:99999/") == "api.test:99999"  # an impossible port is shown as written
    assert p.host_of("https://user:pw@api.test:99999/") == "api.test:99999"
    assert p.host_of("nonsense") == "the server"


# ---------------------------------------------------------------------------------------------- deadline, body


def test_remaining_time_and_its_end():
    assert p.remaining(10.0, "h", 5, clock=Ticks(7.5)) == 2.5
    with pytest.raises(e.RequestTimedOut) as info:
        p.remaining(10.0, "api.test", 15, clock=Ticks(10.0))
    assert info.value.message == "api.test was too slow to answer (gave up after 15 s)"
    assert info.value.sent is False
    assert info.value.seconds == 15


def test_read_capped_joins_checks_size_and_deadline():
    assert p.read_capped([b"ab", b"cd"], 4, "h", 10.0, 5, Ticks(1.0)) == b"abcd"
    with pytest.raises(e.TransportError, match="larger than 3 bytes"):
        p.read_capped([b"ab", b"cd"], 3, "h", 10.0, 5, Ticks(1.0))
    with pytest.raises(e.RequestTimedOut) as info:
        p.read_capped([b"a", b"b", b"c"], 10, "h", 10.0, 5, Ticks(1.0, 9.0, 10.5))
    assert info.value.sent is True


@pytest.mark.parametrize(
    ("method", "status", "headers", "expected"),
    [
        ("GET", 200, {"content-length": "12"}, 12),
        ("GET", 200, {"content-length": " 12 "}, 12),
        ("GET", 200, {}, None),
        ("GET", 200, {"content-length": "12", "transfer-encoding": "chunked"}, None),
        ("GET", 200, {"content-length": "12, 12"}, None),
        ("GET", 200, {"content-length": "-1"}, None),
        ("GET", 200, {"content-length": "\u00b2"}, None),  # a Unicode digit is not a length
        ("HEAD", 200, {"content-length": "12"}, 0),
        ("GET", 204, {"content-length": "12"}, 0),
        ("GET", 304, {"content-length": "12"}, 0),
        ("GET", 101, {}, 0),
    ],
)
def test_expected_length(method, status, headers, expected):
    assert p.expected_length(method, status, headers) == expected


def test_check_complete():
    p.check_complete("h", 10, 10)
    p.check_complete("h", 10, None)
    p.check_complete("h", 11, 10)  # http.client stops at the length; more is never read
    with pytest.raises(e.ResponseTruncated) as info:
        p.check_complete("api.test", 9, 10)
    assert info.value.message.startswith("The answer from api.test was cut short")
    assert (info.value.code, info.value.sent) == ("TRUNCATED_RESPONSE", True)


def test_header_text_reads_utf8_like_httpx():
    assert p.header_text("plain") == "plain"
    assert p.header_text("/echo\xe2\x80\xae") == "/echo\u202e"
    assert p.header_text("caf\xe9") == "caf\xe9"  # not UTF-8: left as latin-1


def test_find_cause_walks_the_chain():
    inner = ValueError("inner")
    outer = KeyError("outer")
    outer.__cause__ = inner
    loop = OSError("loop")
    loop.__context__ = loop
    assert p.find_cause(outer, ValueError) is inner
    assert p.find_cause(outer, KeyError) is outer
    assert p.find_cause(outer, OSError) is None
    assert p.find_cause(loop, ValueError) is None


def test_certificate_reason():
    class Failure(Exception):
        verify_message = "unable to get local issuer certificate"

    assert p.certificate_reason(Failure()) == "unable to get local issuer certificate"
    assert p.certificate_reason(ValueError()) is None


# ---------------------------------------------------------------------------------------------- redirects


def test_send_following_shares_one_deadline_and_marks_later_failures_sent():
    deadlines: list[float] = []

    def send_once(request: HttpRequest, deadline: float) -> HttpResponse:
        deadlines.append(deadline)
        if request.url.endswith("/second"):
            raise e.TransportError("h", "boom", sent=False)
        return HttpResponse(302, {"location": "/second"}, b"", request.url)

    request = HttpRequest("GET", "https://api.test/first", timeout=7, follow_redirects=True)
    with pytest.raises(e.TransportError) as info:
        p.send_following(send_once, request, clock=Ticks(100.0))
    assert deadlines == [107.0, 107.0]
    assert info.value.sent is True


def test_a_first_hop_failure_keeps_its_sent_flag():
    def send_once(request: HttpRequest, deadline: float) -> HttpResponse:
        raise e.TransportError("h", "refused", sent=False)

    with pytest.raises(e.TransportError) as info:
        p.send_following(send_once, HttpRequest("GET", "https://api.test/"), clock=Ticks(0.0))
    assert info.value.sent is False


def test_next_hop_rules():
    request = HttpRequest(
        "POST", "https://api.test/a", {"authorization": "Bearer t", "content-type": "x"}, b"b", follow_redirects=True
    )
    same = p.next_hop(request, HttpResponse(307, {"location": "/b"}), 0)
    assert same is not None
    assert (same.url, same.method, same.body, same.headers["authorization"]) == (
        "https://api.test/b",
        "POST",
        b"b",
        "Bearer t",
    )
    other = p.next_hop(request, HttpResponse(303, {"location": "https://other.test/"}), 0)
    assert other is not None
    assert (other.method, other.body, other.headers) == ("GET", None, {})
    assert p.next_hop(request, HttpResponse(200), 0) is None
    assert p.next_hop(request, HttpResponse(302), 0) is None
    with pytest.raises(e.TransportError, match="more than 5 redirects"):
        p.next_hop(request, HttpResponse(302, {"location": "/c"}), 5)
    with pytest.raises(e.TransportError, match="invalid URL"):
        p.next_hop(request, HttpResponse(302, {"location": "http://[::1"}), 0)


# ---------------------------------------------------------------------------------------------- trace


def test_the_trace_line_shows_no_query_no_credentials_and_escapes_controls():
    proxy = p.parse_proxy("http://u:pw@proxy:3128", "HTTPS_PROXY")
    request = HttpRequest("GET", "https://api.test/a\x1b[31m\u202eb?token=secret")
    line = p.trace_line(request, 200, 0.0123, proxy)
    assert line == "[http] GET https://api.test/a%1B[31m%E2%80%AEb -> 200 (12 ms) via proxy proxy:3128"
    assert p.trace_line(HttpRequest("GET", "https://api.test:99999/"), "refused", 0) == (
        "[http] GET (invalid URL) -> refused (0 ms)"
    )


# ---------------------------------------------------------------------------------------------- errors


def test_transport_errors_say_whether_the_request_was_sent():
    assert e.TransportError("h", "d").sent is True
    assert e.TransportError("h", "d", sent=False).sent is False
    certificate = e.CertificateError("api.test:443", "unable to get local issuer certificate")
    assert (
        certificate.message
        == "Could not verify the TLS certificate of api.test:443: unable to get local issuer certificate"
    )
    assert e.CertificateError("api.test").message == "Could not verify the TLS certificate of api.test"
    assert certificate.hint == "If a proxy inspects TLS, set SSL_CERT_FILE to its CA bundle (a PEM file)."
    assert (certificate.sent, certificate.host) == (False, "api.test:443")
    for error in (certificate, e.RequestTimedOut("h", 1), e.ResponseTruncated("h"), e.ProxyError("p:1", "V", "d")):
        assert isinstance(error, e.TransportError)
        assert error.code.isupper()
        assert error.code in repr(error)
        assert error.exit_code == 1
        assert "\n" not in error.message
        assert error.hint

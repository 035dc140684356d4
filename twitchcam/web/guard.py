"""The token guard of ``twitchcam serve``: ASGI middleware that answers nothing without this server's token.

Rules (the whole list of the server's safety rules is in :mod:`twitchcam.web.app`):

- Every request carries the token: the login address (``/?token=...``) answers with an ``HttpOnly;
  SameSite=Strict`` cookie holding it (named per port, :func:`cookie_name`) and a redirect to the same page without
  it; otherwise the cookie or the ``X-Twitchcam-Token`` header. Without it: a 403 page (JSON under ``/api/``).
- Every request that changes something (any method but GET/HEAD/OPTIONS) also carries the token in the header,
  which the pages read from a ``<meta>`` tag that another site cannot read.
- Every response gets the security headers (:data:`SECURITY_HEADERS`: no sniffing, the pages' CSP, same-origin
  framing and resources, no referrer, no caching) unless it set its own; the report and the downloads set
  :data:`REPORT_CSP` and :data:`DOWNLOAD_CSP`.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse

TOKEN_HEADER = "x-twitchcam-token"
#: The query parameter of the login address.
TOKEN_PARAM = "token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "media-src 'self' blob:; connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'self'")
# The report is self-contained (inline styles, base64 figures) and may play the annotated video beside it. It runs
# no script (sandbox without allow-scripts, and default-src 'none'), so keeping its origin (allow-same-origin)
# only lets it load that video past Cross-Origin-Resource-Policy.
REPORT_CSP = ("sandbox allow-same-origin; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
              "media-src 'self'; frame-ancestors 'self'")
DOWNLOAD_CSP = "sandbox; default-src 'none'"

SECURITY_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", PAGE_CSP),
    ("x-frame-options", "SAMEORIGIN"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-resource-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(self), microphone=(), geolocation=()"),
    ("cache-control", "no-store"),
)


def cookie_name(port: int) -> str:
    """The name of the token cookie of a server on ``port``: cookies are per host, not per port, so two servers on
    127.0.0.1 would otherwise overwrite each other's.
    """
    return f"twitchcam_token_{port}"


def _forbidden_page() -> bytes:
    return (b"<!doctype html><html lang=en><meta charset=utf-8><title>twitchcam: sign in</title>"
            b"<body style='font-family:sans-serif;max-width:40em;margin:3em auto'><h1>twitchcam</h1>"
            b"<p>This page is only for the person who started <code>twitchcam serve</code>. Open the address it "
            b"printed in its terminal (it ends in <code>?token=...</code>) in this browser.</p></body></html>"
            )


class TokenGuard:
    """ASGI middleware: the token on every request (login address, cookie or header), the header on
    state-changing ones, and the security headers on every response.
    """

    def __init__(self, app, token: str):
        self.app = app
        self.token = token.encode()

    def _valid(self, value: bytes | str | None) -> bool:
        if not value:
            return False
        return secrets.compare_digest(value.encode() if isinstance(value, str) else value, self.token)

    async def __call__(self, scope, receive, send):
        """Answer an HTTP request without its token with a 403; pass the others on with the security headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS:
                    if key not in headers:
                        headers[key] = value
            await send(message)

        request = Request(scope)
        name = cookie_name((scope.get("server") or ("", 0))[1])
        query = request.query_params
        if TOKEN_PARAM in query and scope["method"] in ("GET", "HEAD"):
            # The login address: keep the token in a cookie, and send the browser on without it in the address.
            if not self._valid(query[TOKEN_PARAM]):
                response = HTMLResponse(_forbidden_page(), 403)
            else:
                rest = urlencode([(k, v) for k, v in query.multi_items() if k != TOKEN_PARAM])
                response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), 303)
                response.set_cookie(name, self.token.decode(), httponly=True, samesite="strict", path="/")
            await response(scope, receive, send_with_headers)
            return
        header = dict(scope["headers"]).get(TOKEN_HEADER.encode())
        if not (self._valid(header) or self._valid(request.cookies.get(name))):
            if request.url.path.startswith("/api/"):
                response = JSONResponse({"error": "This server needs its token: open the address twitchcam serve "
                                                  "printed, or send the X-Twitchcam-Token header."}, 403)
            else:
                response = HTMLResponse(_forbidden_page(), 403)
            await response(scope, receive, send_with_headers)
            return
        if scope["method"] not in SAFE_METHODS and not self._valid(header):
            response = JSONResponse({"error": "This request lacks the page's token; reload the page."}, 403)
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

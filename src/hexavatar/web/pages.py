"""HTML pages: sign-up, sign-in, profiles, settings, minting, wallets and the NFT picker.

Server-rendered with Jinja2 and usable without JavaScript: forms POST to these routes, which
call the services and then redirect (POST/redirect/GET) with a one-shot flash message, or show
the form again with the service's own error message at the error's HTTP status. JavaScript is
needed only to talk to an EIP-1193 wallet (``static/wallet.js``: accounts and a ``personal_sign``
of the SIWE message, never a transaction); ``static/app.js`` adds an upload preview and mint
progress. The JSON API is untouched: the wallet script uses it with the same session cookie.

CSRF: the session cookie is SameSite=Lax, and every form carries a token, the HMAC-SHA256 of a
fixed label keyed by the session token. Only the browser holding the (HttpOnly) cookie can
know it, any stateless process can check it, and no secret setting is needed. Signed-out forms
(sign-up, log-in) use a random pre-session cookie the same way (double submit). A POST whose
token is missing or wrong is refused with 403 before any service runs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Coroutine
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.routing import NoMatchFound

from .. import __version__
from ..chain.errors import ChainError
from ..ipfs.errors import IpfsError
from ..media.errors import MediaError
from ..resolve.errors import ResolveError
from ..services.errors import ServiceError
from ..services.minting import TERMINAL, MintRequest, MintView
from ..services.nft_avatars import NftAvatarView
from ..storage.db import as_utc
from ..storage.errors import StorageError
from ..storage.models import User
from .deps import SESSION_COOKIE, Services, get_services, optional_user, set_cookie
from .errors import STATUS_BY_CODE, ApiError
from .multipart import BodyTooLarge, FormData, MalformedForm, read_form

__all__ = ["CSRF_FIELD", "csrf_token", "router"]


class _SignInFirst(Exception):
    """A page that needs an account was asked for without one: go to the log-in form."""


class _PageRoute(APIRoute):
    """Routes of this router send a signed-out visitor to ``/login?next=<this page>``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except _SignInFirst:
                target = f"/login?next={quote(request.url.path)}"
                return RedirectResponse(target, status_code=303)

        return run


def _signed_in(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise _SignInFirst
    return user


ServicesDep = Annotated[Services, Depends(get_services)]
UserDep = Annotated[User | None, Depends(optional_user)]
SignedIn = Annotated[User, Depends(_signed_in)]
router = APIRouter(
    include_in_schema=False, default_response_class=HTMLResponse, route_class=_PageRoute
)

CSRF_FIELD = "csrf"
_PRESESSION_COOKIE = "hexavatar_csrf"
_FLASH_COOKIE = "hexavatar_flash"
_CSRF_LABEL = b"hexavatar form token v1"
_CODED = (
    ServiceError, MediaError, StorageError, ChainError, IpfsError, ResolveError, ApiError,
    MalformedForm, BodyTooLarge,
)  # fmt: skip
_FLASHES = {
    "signed_up": "Welcome! Your account is ready: add a picture below.",
    "logged_in": "You are signed in.",
    "logged_out": "You are signed out.",
    "uploaded": "Your new picture is saved.",
    "removed": "Your picture is removed; your profile shows the generated default.",
    "unlinked": "The wallet is unlinked.",
    "nft_set": "The NFT is now your avatar: ownership was checked on-chain.",
    "nft_removed": "The NFT avatar is removed; your uploaded picture is shown again.",
}
_MINT_STEPS = ("received", "content_imported", "signed", "sent", "confirmed")


# -- rendering --------------------------------------------------------------------------------


@cache
def _templates() -> Jinja2Templates:
    """Autoescaped; a name a template uses but a route did not pass is an error, not ''."""
    loader = FileSystemLoader(Path(__file__).parent / "templates")
    return Jinja2Templates(
        env=Environment(loader=loader, autoescape=True, undefined=StrictUndefined)
    )


def csrf_token(basis: str) -> str:
    """The form token for a session (or pre-session) token: HMAC-SHA256 keyed by it."""
    return hmac.new(basis.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def _csp(services: Services) -> str:
    images = ["'self'", "data:", "blob:"]
    base = services.settings.object_public_base_url
    if base:
        parts = urlsplit(base)
        images.append(f"{parts.scheme}://{parts.netloc}")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"img-src {' '.join(images)}; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def _page(
    request: Request,
    services: Services,
    template: str,
    *,
    user: User | None,
    status: int = 200,
    **context: Any,
) -> Response:
    """Render ``template`` with the signed-in user, the form token and any flash message."""
    basis = request.cookies.get(SESSION_COOKIE) or request.cookies.get(_PRESESSION_COOKIE)
    fresh = None if basis else secrets.token_urlsafe(32)
    flash = _FLASHES.get(request.cookies.get(_FLASH_COOKIE, ""))
    context.setdefault("error", "")
    context.update(
        user=user, csrf=csrf_token(basis or fresh or ""), flash=flash, version=__version__
    )
    response = _templates().TemplateResponse(request, template, context, status_code=status)
    response.headers["Content-Security-Policy"] = _csp(services)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    if fresh is not None:
        _cookie(response, services, _PRESESSION_COOKIE, fresh, max_age=24 * 3600)
    if flash is not None or _FLASH_COOKIE in request.cookies:
        response.delete_cookie(_FLASH_COOKIE, path="/")
    return response


def _cookie(response: Response, services: Services, name: str, value: str, max_age: int) -> None:
    set_cookie(response, services, name, value, max_age=max_age)


def _redirect(services: Services, to: str, *, flash: str | None = None) -> Response:
    response = RedirectResponse(to, status_code=303)
    if flash is not None:
        _cookie(response, services, _FLASH_COOKIE, flash, max_age=60)
    return response


def _failed(
    request: Request, services: Services, template: str, error: Exception, **context: Any
) -> Response:
    """The form again, with the coded error's message, at the error's HTTP status."""
    return _page(request, services, template, status=_status(error), error=str(error), **context)


def _status(error: Exception) -> int:
    return STATUS_BY_CODE.get(str(getattr(error, "code", "")), 400)


def _local_path(url: str, *, own: str) -> str:
    """A URL under this service's public URL ``own`` as a path, so the page works on whatever
    host serves it; a URL elsewhere (an object store's public URL) as it is."""
    return url[len(own) :] if url.startswith(own + "/") else url


def _ipfs_path(request: Request, cid: str | None) -> str | None:
    """``/ipfs/<cid>`` on this service's gateway, if the gateway is mounted."""
    if not cid:
        return None
    try:
        return str(request.app.url_path_for("ipfs_root", cid=cid))
    except NoMatchFound:
        return None


def _safe_next(target: str | None, default: str) -> str:
    """Only a path on this site (no ``//host`` or scheme): no open redirect after log-in."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


# -- form input and CSRF ----------------------------------------------------------------------


def _check_csrf(request: Request, sent: str | None) -> None:
    basis = request.cookies.get(SESSION_COOKIE) or request.cookies.get(_PRESESSION_COOKIE)
    if not basis or not sent or not hmac.compare_digest(csrf_token(basis), sent):
        raise ApiError(
            "forbidden",
            "the form's security token is missing or belongs to another session: "
            "reload the page and submit the form again",
        )


async def _fields(request: Request) -> dict[str, str]:
    """An url-encoded form's text fields, after its CSRF token is checked."""
    form = await request.form(max_files=0, max_fields=20)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    _check_csrf(request, fields.get(CSRF_FIELD))
    for name, value in fields.items():
        if "\x00" in value:
            raise MalformedForm(f"form field {name[:40]!r}: NUL characters are not allowed")
    return fields


async def _multipart(request: Request, services: Services) -> FormData:
    """A multipart form read with the upload limits, after its CSRF token is checked."""
    form = await read_form(
        request.headers.get("content-type"),
        request.headers.get("content-length"),
        request.stream(),
        max_file_bytes=services.settings.max_upload_bytes,
    )
    _check_csrf(request, form.text(CSRF_FIELD))
    return form


def _refused(request: Request, services: Services, user: User | None, e: Exception) -> Response:
    return _failed(request, services, "error.html", e, user=user, title="Not done")


# -- home and accounts ------------------------------------------------------------------------


@router.get("/")
def home(request: Request, services: ServicesDep, user: UserDep) -> Response:
    return _page(request, services, "index.html", user=user)


@router.get("/signup")
def signup_form(request: Request, services: ServicesDep, user: UserDep) -> Response:
    return _page(request, services, "signup.html", user=user, username="")


@router.post("/signup")
async def signup(request: Request, services: ServicesDep, user: UserDep) -> Response:
    fields: dict[str, str] = {}
    try:
        fields = await _fields(request)
        name, password = fields.get("username", ""), fields.get("password", "")
        created = await run_in_threadpool(services.accounts.signup, name, password)
        token = await run_in_threadpool(services.accounts.issue_token, created.id, kind="session")
    except _CODED as e:
        return _failed(
            request, services, "signup.html", e, user=user, username=fields.get("username", "")
        )
    response = _redirect(services, "/settings", flash="signed_up")
    _cookie(response, services, SESSION_COOKIE, token, services.settings.session_ttl_seconds)
    return response


@router.get("/login")
def login_form(request: Request, services: ServicesDep, user: UserDep, next: str = "") -> Response:
    return _page(request, services, "login.html", user=user, username="", next=next)


@router.post("/login")
async def login(request: Request, services: ServicesDep, user: UserDep) -> Response:
    fields: dict[str, str] = {}
    try:
        fields = await _fields(request)
        client = request.client.host if request.client else "unknown"
        found, token = await run_in_threadpool(
            lambda: services.accounts.login(
                fields.get("username", ""), fields.get("password", ""), client=client
            )
        )
    except _CODED as e:
        return _failed(
            request, services, "login.html", e, user=user,
            username=fields.get("username", ""), next=fields.get("next", ""),
        )  # fmt: skip
    response = _redirect(
        services, _safe_next(fields.get("next"), f"/@{found.username}"), flash="logged_in"
    )
    _cookie(response, services, SESSION_COOKIE, token, services.settings.session_ttl_seconds)
    return response


@router.post("/logout")
async def logout(request: Request, services: ServicesDep, user: UserDep) -> Response:
    try:
        await _fields(request)
    except _CODED as e:
        return _refused(request, services, user, e)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await run_in_threadpool(services.accounts.revoke, cookie)
    response = _redirect(services, "/", flash="logged_out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- profile ----------------------------------------------------------------------------------


@router.get("/@{username}")
def profile(username: str, request: Request, services: ServicesDep, user: UserDep) -> Response:
    """The public profile: the avatar large, an NFT in a hexagon with its provenance."""
    try:
        owner, view = services.avatars.shown(username)
    except _CODED as e:
        return _failed(request, services, "error.html", e, user=user, title="No such profile")
    nft = services.nft_avatars.active(owner.id)
    nft = nft if nft is not None and view is not None and nft.avatar_id == view.id else None
    return _page(
        request, services, "profile.html", user=user, owner=owner,
        picture=_picture(services, view.renditions if view else {}, owner.username),
        nft=_provenance(request, nft) if nft else None,
    )  # fmt: skip


def _picture(services: Services, renditions: dict[int, str], username: str) -> dict[str, str]:
    """``src`` and ``srcset`` for a 256 px avatar: stored renditions, else the default."""
    own = services.settings.effective_public_url
    if 256 not in renditions:
        return {"src": f"/u/{quote(username)}/avatar?size=256", "srcset": ""}
    src = _local_path(renditions[256], own=own)
    srcset = f"{src} 1x"
    if 512 in renditions:
        srcset += f", {_local_path(renditions[512], own=own)} 2x"
    return {"src": src, "srcset": srcset}


def _provenance(request: Request, nft: NftAvatarView) -> dict[str, Any]:
    return {
        "view": nft,
        "ref": nft.caip,
        "metadata_link": _ipfs_path(request, nft.metadata_cid),
        "image_link": _ipfs_path(request, nft.image_cid),
        "checked_at": as_utc(nft.checked_at).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


# -- settings: the uploaded picture -----------------------------------------------------------


@router.get("/settings")
def settings_page(request: Request, services: ServicesDep, user: SignedIn) -> Response:
    return _settings(request, services, user)


def _settings(
    request: Request, services: Services, user: User, *, status: int = 200, error: str = ""
) -> Response:
    _, view = services.avatars.current(user.username)
    return _page(
        request, services, "settings.html", user=user, status=status, error=error,
        upload=_picture(services, view.renditions, user.username) if view else None,
        max_mib=services.settings.max_upload_bytes / (1024 * 1024),
    )  # fmt: skip


@router.post("/settings/avatar")
async def upload(request: Request, services: ServicesDep, user: SignedIn) -> Response:
    try:
        form = await _multipart(request, services)
        part = form.file("file")
        if part is None or not part.filename:
            raise ApiError("missing_field", "choose a picture file to upload")
        await run_in_threadpool(services.avatars.set_upload, user.id, bytes(part.data))
    except _CODED as e:
        return await run_in_threadpool(
            _settings, request, services, user, status=_status(e), error=str(e)
        )
    return _redirect(services, "/settings", flash="uploaded")


@router.post("/settings/avatar/delete")
async def remove_upload(request: Request, services: ServicesDep, user: SignedIn) -> Response:
    try:
        await _fields(request)
        await run_in_threadpool(services.avatars.delete, user.id)
    except _CODED as e:
        return _refused(request, services, user, e)
    return _redirect(services, "/settings", flash="removed")


# -- minting ----------------------------------------------------------------------------------


@router.get("/mint")
def mint_form(request: Request, services: ServicesDep, user: SignedIn) -> Response:
    return _mint_form(request, services, user, values={})


def _mint_form(
    request: Request,
    services: Services,
    user: User,
    *,
    values: dict[str, str],
    status: int = 200,
    error: str = "",
) -> Response:
    wallets = services.wallets.addresses(user.id)
    blank = dict.fromkeys(("name", "description", "attributes"), "")
    values = {**blank, "to": wallets[0] if wallets else "", **values}
    values.setdefault("key", str(uuid.uuid4()))  # one key per form: a re-post mints once
    return _page(
        request, services, "mint.html", user=user, values=values, wallets=wallets,
        status=status, error=error, enabled=services.chain is not None,
    )  # fmt: skip


@router.post("/mint")
async def mint(request: Request, services: ServicesDep, user: SignedIn) -> Response:
    """Mint from the form; the result page shows the token (or why it failed)."""
    values: dict[str, str] = {}
    try:
        form = await _multipart(request, services)
        names = ("name", "description", "attributes", "to", "key")
        values = {k: form.text(k) or "" for k in names}
        image = form.file("image")
        if image is None or not image.filename:
            raise ApiError("missing_field", "choose an image file to mint")
        req = MintRequest.parse(
            image=bytes(image.data), name=values["name"], description=values["description"],
            attributes=values["attributes"], to=values["to"], idempotency_key=values["key"],
        )  # fmt: skip
        view = await run_in_threadpool(services.minting.submit, user.id, req)
    except _CODED as e:
        return await run_in_threadpool(
            _mint_form, request, services, user, values=values, status=_status(e), error=str(e)
        )
    return _redirect(services, f"/mint/{view.id}")


@router.get("/mint/{mint_id}")
def mint_result(mint_id: str, request: Request, services: ServicesDep, user: SignedIn) -> Response:
    """A mint as the ledger has it; refreshes itself (no JavaScript) until it is final."""
    try:
        view = services.minting.get(mint_id, user_id=user.id)
    except _CODED as e:
        return _refused(request, services, user, e)
    return _page(
        request, services, "mint_result.html", user=user, mint=view,
        steps=_steps(view), final=view.status in TERMINAL,
        image_link=_ipfs_path(request, _cid(view.image_uri)),
        metadata_link=_ipfs_path(request, _cid(view.metadata_uri)),
        ref=_ref(view),
    )  # fmt: skip


def _steps(view: MintView) -> list[dict[str, str]]:
    """The ledger's steps, each ``done``, ``current`` (the one under way) or ``""``."""
    reached = _MINT_STEPS.index(view.status) if view.status in _MINT_STEPS else -1
    under_way = -1 if view.status in TERMINAL else reached + 1
    return [
        {"name": step.replace("_", " "),
         "state": "done" if i <= reached else ("current" if i == under_way else "")}
        for i, step in enumerate(_MINT_STEPS)
    ]  # fmt: skip


def _cid(uri: str | None) -> str | None:
    return uri.removeprefix("ipfs://") if uri and uri.startswith("ipfs://") else None


def _ref(view: MintView) -> str | None:
    if view.token_id is None or view.contract is None or view.chain_id is None:
        return None
    return f"eip155:{view.chain_id}/erc721:{view.contract}/{view.token_id}"


# -- wallets ----------------------------------------------------------------------------------


@router.get("/wallets")
def wallets_page(request: Request, services: ServicesDep, user: SignedIn) -> Response:
    return _wallets(request, services, user)


def _wallets(
    request: Request, services: Services, user: User, *, status: int = 200, error: str = ""
) -> Response:
    return _page(
        request, services, "wallets.html", user=user, status=status, error=error,
        wallets=services.wallets.list_for(user.id),
    )  # fmt: skip


@router.post("/wallets/unlink")
async def unlink_wallet(request: Request, services: ServicesDep, user: SignedIn) -> Response:
    try:
        fields = await _fields(request)
        await run_in_threadpool(services.wallets.unlink, user.id, fields.get("address", ""))
        if services.chain is not None:  # the NFT avatar may have been in that wallet
            await run_in_threadpool(services.nft_avatars.recheck_user, user.id)
    except _CODED as e:
        return await run_in_threadpool(
            _wallets, request, services, user, status=_status(e), error=str(e)
        )
    return _redirect(services, "/wallets", flash="unlinked")


# -- the NFT picker ---------------------------------------------------------------------------


@router.get("/nfts")
def nfts_page(request: Request, services: ServicesDep, user: SignedIn) -> Response:
    return _nfts(request, services, user)


def _nfts(
    request: Request,
    services: Services,
    user: User,
    *,
    status: int = 200,
    error: str = "",
    ref: str = "",
) -> Response:
    """The tokens of our contract that the linked wallets own now, the user's other mints,
    and a form for any NFT by reference."""
    try:
        owned = services.nft_avatars.owned_tokens(user.id)
    except _CODED as e:
        owned, status, error = [], _status(e), error or str(e)
    mints = {_ref(v): v for v in services.minting.list_for(user.id) if v.status == "confirmed"}
    images = {r: _ipfs_path(request, _cid(v.image_uri)) for r, v in mints.items()}
    tokens = [
        {"ref": t.ref, "token_id": t.token_id, "owner": t.owner, "image_link": images.get(t.ref)}
        for t in owned
    ]
    held = {t.ref for t in owned}
    others = [v for r, v in mints.items() if r is not None and r not in held]
    active, latest = services.nft_avatars.active(user.id), services.nft_avatars.latest(user.id)
    return _page(
        request, services, "nfts.html", user=user, status=status, error=error, ref=ref,
        tokens=tokens, others=others, wallets=services.wallets.addresses(user.id),
        active=active, active_ref=active.caip if active else None,
        dropped=latest if latest is not None and latest.status == "dropped" else None,
    )  # fmt: skip


@router.post("/nfts/use")
async def use_nft(request: Request, services: ServicesDep, user: SignedIn) -> Response:
    """Make an NFT the avatar (ownership checked now), then show the profile."""
    ref = ""
    try:
        fields = await _fields(request)
        ref = fields.get("ref", "")[:300]
        await run_in_threadpool(services.nft_avatars.set_avatar, user.id, ref)
    except _CODED as e:
        return await run_in_threadpool(
            _nfts, request, services, user, status=_status(e), error=str(e), ref=ref
        )
    return _redirect(services, f"/@{user.username}", flash="nft_set")


@router.post("/nfts/stop")
async def stop_nft(request: Request, services: ServicesDep, user: SignedIn) -> Response:
    try:
        await _fields(request)
        await run_in_threadpool(services.nft_avatars.remove, user.id)
    except _CODED as e:
        return _refused(request, services, user, e)
    return _redirect(services, "/nfts", flash="nft_removed")

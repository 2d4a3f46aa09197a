"""``strategy: github``: Sign in with GitHub (OAuth 2.0, then its REST API).

GitHub is not an OpenID provider: there is no ID token. After the code exchange (with
``state`` and PKCE, as for ``oidc``), Foyer reads ``GET /user`` (the stable numeric ``id`` is
the subject: logins can be renamed and taken by someone else) and ``GET /user/emails``, and
takes only the address GitHub marks both ``primary`` and ``verified``; without one, the user
has no address (and is never linked by address to an existing account).

Options: ``client_id`` (secret: ``client_secret``), ``scope`` (default
``read:user user:email``), ``timeout``; ``base_url`` and ``api_url`` for GitHub Enterprise
Server (default ``https://github.com`` and ``https://api.github.com``).
"""

from __future__ import annotations

import secrets
import typing as t
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from app.connections.strategies import AuthResult
from app.connections.strategies import Diagnosis
from app.connections.strategies import UpstreamAnswer
from app.connections.strategies import UpstreamError
from app.connections.strategies import UpstreamLogin
from app.connections.strategies import UpstreamProfile
from app.connections.strategies import new_state
from app.hookspecs import hookimpl
from app.observability.metrics import timed_upstream
from app.strategies import oidc_metadata
from app.strategies.oidc_diagnose import callback_lines
from app.strategies.oidc_options import check_url

if t.TYPE_CHECKING:
    from app.accounts.models import User
    from app.connections.models import Connection
    from app.connections.strategies import ConnectionStrategy

KNOWN = {"client_id", "scope", "timeout", "base_url", "api_url"}
DEFAULTS: dict[str, t.Any] = {
    "scope": "read:user user:email",
    "timeout": 5.0,
    "base_url": "https://github.com",
    "api_url": "https://api.github.com",
}
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


def check_options(options: t.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    problems = [(key, "unknown option") for key in sorted(set(options) - KNOWN)]
    client_id = options.get("client_id")
    if not isinstance(client_id, str) or not client_id or len(client_id) > 255:
        problems.append(("client_id", "required: the Client ID of the GitHub OAuth app"))
    if not isinstance(options.get("scope", ""), str):
        problems.append(("scope", "space-separated GitHub scopes"))
    timeout = options.get("timeout", 5)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 30:
        problems.append(("timeout", "seconds, more than 0 and at most 30"))
    for key in ("base_url", "api_url"):
        if key in options and (message := check_url(options[key])) is not None:
            problems.append((key, message))
    return problems


class GitHubStrategy:
    """``strategy: github``."""

    name: t.ClassVar[str] = "github"
    kind: t.ClassVar[str] = "redirect"
    label: t.ClassVar[str] = "GitHub"

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @staticmethod
    def check_options(
        options: t.Mapping[str, t.Any], secrets: t.Mapping[str, t.Any] | None
    ) -> list[tuple[str, str]]:
        problems = check_options(dict(options or {}))
        if secrets is not None and not secrets.get("client_secret"):
            problems.append(("secrets.client_secret", "the Client secret of the GitHub OAuth app"))
        return problems

    @property
    def options(self) -> dict[str, t.Any]:
        options = dict(self.connection.options or {})
        problems = check_options(options)
        if problems:
            raise UpstreamError(
                "upstream_misconfigured", "; ".join(f"{f}: {m}" for f, m in problems)
            )
        return {**DEFAULTS, **options}

    # -- password methods: GitHub keeps its own passwords ----------------------------------

    def authenticate(self, identifier: str, password: str) -> AuthResult:
        return AuthResult(None)

    def find_user(self, identifier: str) -> User | None:
        return None

    def set_password(self, user: User, password: str) -> None:
        raise NotImplementedError("GitHub keeps its own passwords")

    # -- the round trip --------------------------------------------------------------------

    def start_login(self, login: UpstreamLogin) -> str:
        options = self.options
        verifier = secrets.token_urlsafe(48)
        state = new_state(login.transaction_id)
        params = {
            "client_id": options["client_id"],
            "redirect_uri": login.callback_url,
            "scope": options["scope"],
            "state": state,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
            "allow_signup": "true",
        }
        if login.login_hint:
            params["login"] = login.login_hint
        if login.force_login:  # GitHub cannot be asked to authenticate again; it can ask
            params["prompt"] = "select_account"  # which account, which is the nearest
        login.saved.update(state=state, verifier=verifier)
        return f"{options['base_url'].rstrip('/')}/login/oauth/authorize?{urlencode(params)}"

    def finish_login(self, answer: UpstreamAnswer) -> UpstreamProfile:
        options = self.options
        params = answer.params
        if error := params.get("error"):
            code = "access_denied" if error == "access_denied" else "upstream_misconfigured"
            detail = params.get("error_description", "")[:300]
            raise UpstreamError(code, f"{error[:100]}: {detail}".rstrip(": "))
        if not params.get("code"):
            raise UpstreamError("invalid_response", "no code in the answer")
        token = self.exchange(options, params["code"], answer)
        api = options["api_url"].rstrip("/")
        timeout = float(options["timeout"])
        auth = {**API_HEADERS, "Authorization": f"Bearer {token}"}
        user = oidc_metadata.get_json(
            f"{api}/user",
            timeout,
            headers=auth,
            what="GitHub user",
            strategy=self.name,
            call="user",
        )
        if not isinstance(user.get("id"), int) or isinstance(user.get("id"), bool):
            raise UpstreamError("invalid_response", "GitHub user: no numeric id")
        email = self.verified_primary_email(api, timeout, auth)
        login = user.get("login") if isinstance(user.get("login"), str) else None
        name = user.get("name") if isinstance(user.get("name"), str) and user["name"] else None
        claims = {
            key: user.get(key)
            for key in ("id", "login", "name", "avatar_url", "html_url")
            if user.get(key) is not None
        }
        return UpstreamProfile(
            subject=str(user["id"]),
            email=email,
            email_verified=email is not None,
            name=name or login,
            app_metadata={"github_login": login} if login else {},
            amr=["fed"],
            claims={**claims, "email": email},
        )

    def exchange(self, options: t.Mapping[str, t.Any], code: str, answer: UpstreamAnswer) -> str:
        """The access token for ``code`` (GitHub answers errors with HTTP 200)."""
        import requests  # memory: 5 MiB, loaded by the first outbound call

        form = {
            "client_id": options["client_id"],
            "client_secret": str(self.connection.get_secrets().get("client_secret", "")),
            "code": code,
            "redirect_uri": answer.callback_url,
            "code_verifier": str(answer.saved.get("verifier", "")),
        }
        timeout = float(options["timeout"])
        endpoint = oidc_metadata.allowed(
            f"{options['base_url'].rstrip('/')}/login/oauth/access_token", "token"
        )
        with timed_upstream(self.name, "token") as timing:
            try:
                response = requests.post(
                    endpoint,
                    data=form,
                    timeout=(timeout, timeout),
                    headers={
                        "Accept": "application/json",
                        "User-Agent": oidc_metadata.USER_AGENT,
                    },
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise UpstreamError("upstream_unavailable", f"token: {type(exc).__name__}") from exc
            if response.status_code >= 500:
                timing.failed()
            tokens = oidc_metadata.read_json(response, "token")
        if "error" in tokens:
            error = str(tokens["error"])[:100]
            kind = (
                "invalid_response" if error == "bad_verification_code" else "upstream_misconfigured"
            )
            raise UpstreamError(kind, f"token: {error}")
        token = tokens.get("access_token")
        if not isinstance(token, str) or not token:
            raise UpstreamError("invalid_response", "token: no access_token")
        return token

    @staticmethod
    def verified_primary_email(
        api: str, timeout: float, headers: t.Mapping[str, str]
    ) -> str | None:
        """The address GitHub marks primary and verified, else None (an unverified or
        secondary address is never taken: anyone can add any address to a GitHub account)."""
        import requests  # memory: 5 MiB, loaded by the first outbound call

        url = oidc_metadata.allowed(f"{api}/user/emails", "emails")
        with timed_upstream(GitHubStrategy.name, "emails") as timing:
            try:
                response = requests.get(
                    url,
                    timeout=(timeout, timeout),
                    headers={**headers, "User-Agent": oidc_metadata.USER_AGENT},
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise UpstreamError(
                    "upstream_unavailable", f"emails: {type(exc).__name__}"
                ) from exc
            if response.status_code >= 500:
                timing.failed()
        if response.status_code in (401, 403, 404):
            return None  # the user:email scope was not granted
        if response.status_code >= 500:
            raise UpstreamError("upstream_unavailable", f"emails: HTTP {response.status_code}")
        try:
            emails = response.json()
        except ValueError:
            emails = None
        if not isinstance(emails, list):
            raise UpstreamError("invalid_response", "emails: not a list")
        for entry in emails:
            if (
                isinstance(entry, dict)
                and entry.get("primary") is True
                and entry.get("verified") is True
                and isinstance(entry.get("email"), str)
            ):
                return str(entry["email"])
        return None

    def diagnose(self) -> list[Diagnosis]:
        """The callback URL to register in the GitHub OAuth app, and whether GitHub answers."""
        import requests  # memory: 5 MiB, loaded by the first outbound call

        try:
            options = self.options
        except UpstreamError as error:
            return [Diagnosis("options", error.detail, "error")]
        lines = callback_lines(self.connection, "Authorization callback URL")
        api = options["api_url"].rstrip("/")
        try:
            response = requests.get(api, timeout=float(options["timeout"]), headers=API_HEADERS)
            status = "ok" if response.status_code < 500 else "error"
            lines.append(Diagnosis("GitHub API", f"{api}: HTTP {response.status_code}", status))
        except requests.RequestException as exc:
            lines.append(Diagnosis("GitHub API", f"{api}: {type(exc).__name__}", "error"))
        return lines


@hookimpl
def register_connection_strategies() -> list[type[ConnectionStrategy]]:
    return [GitHubStrategy]

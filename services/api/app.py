"""The API's app factory: `gunicorn 'services.api.app:create_app()'`."""

from __future__ import annotations

import atexit
from importlib.metadata import version

import swagger_ui_bundle
from flask import Blueprint, Flask
from flask.json.provider import DefaultJSONProvider

from services.api import health
from services.api.analytics.views import blp as analytics
from services.api.audit.views import blp as audit
from services.api.auth import SECURITY_SCHEME, SECURITY_SCHEME_NAME, authenticate_request
from services.api.bulk.views import exports, imports
from services.api.calendar.views import blp as calendar
from services.api.channels.views import blp as channels
from services.api.context import EXTENSION_KEY
from services.api.dashboard.views import install_dashboard
from services.api.deliveries.views import blp as deliveries
from services.api.headers import install_headers
from services.api.home import home
from services.api.inbox.views import blp as inbox
from services.api.inbox.views import streams
from services.api.links.redirects import redirects
from services.api.links.views import blp as links
from services.api.media.public import public_media
from services.api.media.views import blp as media
from services.api.members.views import members, tokens
from services.api.metrics.views import blp as metrics
from services.api.monitoring import monitoring
from services.api.network_calls import install as bound_network_calls
from services.api.networks.views import blp as networks
from services.api.oauth.views import blp as oauth
from services.api.posts.views import blp as posts
from services.api.previews.views import blp as previews
from services.api.problems import ProblemApi
from services.api.rate_limits import install_rate_limits
from services.api.request_limits import limit_request_body
from services.api.sessions.views import blp as sessions
from services.api.text_input import check_text_input
from services.api.webhooks.views import blp as webhooks
from shared.bootstrap import Services, bootstrap, keep_new_files_private
from shared.config import Settings
from shared.monitoring.logs import configure_logging, keep_query_strings_out_of_access_log
from shared.oauth.services import CALLBACK_PATH

SWAGGER_UI_ASSETS_URL = "/docs/assets/"
# The Swagger UI that swagger_ui_bundle ships (4.15) renders only OpenAPI 3.0 documents: given a 3.1 one
# it shows "Unable to render this definition". Move to 3.1 together with a Swagger UI 5 bundle.
OPENAPI_VERSION = "3.0.3"


class UTF8JSONProvider(DefaultJSONProvider):
    """JSON with text as it is, in UTF-8: "Hello 👋" goes out as its own bytes, not as \\ud83d\\udc4b.

    flask-smorest answers, problem documents and the OpenAPI document all go through the app's provider.
    """

    ensure_ascii = False


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the API. With no arguments, settings come from the environment: this is a process edge."""
    if settings is None and services is None:
        keep_new_files_private()
    if settings is None:
        settings = services.settings if services is not None else Settings()
    if services is None:
        services = bootstrap(settings)
        # Built here, so closed here: when the server process exits, its network-call threads finish.
        atexit.register(services.close)
    configure_logging(settings)
    keep_query_strings_out_of_access_log([CALLBACK_PATH])

    # No static folder of its own: the only static files are Swagger UI's, served below.
    app = Flask(__name__, static_folder=None)
    app.json = UTF8JSONProvider(app)
    app.config.update(
        API_TITLE="Crier",
        API_VERSION=version("crier"),
        OPENAPI_VERSION=OPENAPI_VERSION,
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_ASSETS_URL,
        # No badge loaded from validator.swagger.io: the docs load nothing from elsewhere.
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
        # Every operation needs a token unless it says otherwise (the health checks do).
        API_SPEC_OPTIONS={"security": [{SECURITY_SCHEME_NAME: []}]},
    )
    app.extensions[EXTENSION_KEY] = services
    # First: nothing may read a body before its size is checked, nor look up a token for a client over
    # its limits.
    app.before_request(limit_request_body)
    install_rate_limits(app, settings)
    app.before_request(authenticate_request)
    app.before_request(check_text_input)
    bound_network_calls(app, settings)

    api = ProblemApi(app)
    api.spec.components.security_scheme(SECURITY_SCHEME_NAME, SECURITY_SCHEME)
    blueprints = (
        health.blp,
        members,
        tokens,
        sessions,
        channels,
        posts,
        previews,
        deliveries,
        metrics,
        networks,
    )
    for blueprint in (
        *blueprints,
        calendar,
        links,
        webhooks,
        audit,
        oauth,
        media,
        imports,
        exports,
        analytics,
        inbox,
        streams,
    ):
        api.register_blueprint(blueprint)
    # Registered on the app, not the Api: the front page, the short links' redirects, the media the
    # networks fetch and Prometheus's /metrics are no part of the documented API.
    app.register_blueprint(home)
    app.register_blueprint(redirects)
    app.register_blueprint(public_media)
    app.register_blueprint(monitoring)
    app.register_blueprint(swagger_ui_assets())
    install_dashboard(app, settings)
    install_headers(app)
    return app


def swagger_ui_assets() -> Blueprint:
    """Swagger UI's scripts and styles from the installed package, so /docs needs no CDN."""
    return Blueprint(
        "swagger_ui_assets",
        __name__,
        static_folder=swagger_ui_bundle.swagger_ui_path,
        static_url_path=SWAGGER_UI_ASSETS_URL.rstrip("/"),
    )

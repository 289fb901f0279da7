"""Settings: one pydantic model in sections, loaded one way and validated once per process.

Every setting is a field of :class:`Settings`, named as its environment variable without the prefix
``ERPBRIDGE_`` (``ERPBRIDGE_ORDER_EXPORT_BATCH`` is ``order_export_batch``). The fields are grouped
in sections, one class each (:class:`ErpSettings`, :class:`PricingSettings`, ...): a use case or an
adapter that needs one group declares that section as its parameter type, and ``docs/settings.md``
has a table per section. A new section is a :class:`Section` subclass added to ``Settings``' bases;
its field names must not repeat another section's (``tests/test_settings.py`` checks).

:func:`load_settings` is the one way in, the same for every section: the environment, then SSM
Parameter Store (``ERPBRIDGE_SSM_PATH`` names a path whose parameters ``<path>/erp_url``, ... fill
settings), then Secrets Manager (``ERPBRIDGE_SECRETS_NAME`` names a JSON object whose keys are
setting names without the prefix, e.g. ``{"erp_security_key": "..."}``); a later source wins. All
three are read as text by pydantic-settings' environment source, so a value means the same wherever
it is set (lists as JSON). SSM and Secrets Manager are read through Powertools parameters (cached).
A wrong or missing setting raises :class:`ConfigurationError` naming the ``ERPBRIDGE_`` variable;
secret values are ``SecretStr`` so they are never logged or echoed.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from erpbridge.errors import ConfigurationError

ENV_PREFIX = "ERPBRIDGE_"
# ERPBRIDGE_DEGRADE_PRICES: "refuse", or fallback sources separated by commas, each at most once.
_PRICE_FALLBACKS = r"^(refuse|(cache-stale|shop-prices)(,(cache-stale|shop-prices))?)$"
AuthMode = Literal["none", "key", "basic", "oauth2"]


class Section(BaseModel):
    """A group of settings: a table of ``docs/settings.md``, and a type a use case can ask for."""

    # Each field's docstring is its description (docs/settings.md is generated from them).
    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)

    title: ClassVar[str]
    """the heading of the section's table in docs/settings.md"""


class ErpSettings(Section):
    """How to reach Business Central (or the emulator). Also used per batch job as an override."""

    title: ClassVar[str] = "The ERP connection"

    erp_url: AnyHttpUrl | None = Field(default=None, description="SOAP URL of the DWWebService codeunit")
    erp_auth: AuthMode = "key"
    """key (connector security key), basic (on-premises user + web service access key),
    oauth2 (BC online client credentials) or none"""
    erp_security_key: SecretStr | None = None
    """the connector security key (erp_auth=key)"""
    erp_security_key_header: str = "X-Security-Key"
    """the header the security key is sent in"""
    erp_user: str | None = None
    """Basic user (erp_auth=basic)"""
    erp_password: SecretStr | None = None
    """Basic password: the web service access key (erp_auth=basic)"""
    erp_tenant: str | None = None
    """Entra tenant id; the token URL is derived from it (erp_auth=oauth2)"""
    erp_client_id: str | None = None
    """OAuth2 client id (erp_auth=oauth2)"""
    erp_client_secret: SecretStr | None = None
    """OAuth2 client secret (erp_auth=oauth2)"""
    erp_token_url: AnyHttpUrl | None = None
    """OAuth2 token URL; default https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token"""
    erp_scope: str = "https://api.businesscentral.dynamics.com/.default"
    """OAuth2 scope"""
    erp_timeout_s: float = Field(default=30.0, gt=0, le=900)
    """read timeout of every ERP call (seconds)"""
    erp_connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    """connect timeout of every ERP call (seconds)"""
    erp_soap_service: str = "DWWebService"
    """the codeunit's SOAP service name (not published by the vendor)"""
    erp_soap_namespace: str | None = None
    """SOAP namespace; default urn:microsoft-dynamics-schemas/codeunit/<service>"""
    erp_soap_method: str = "Process"
    """the codeunit's SOAP method"""
    erp_soap_parameter: str = "request"
    """the method's text parameter"""
    erp_soap_discover_wsdl: bool = False
    """read the SOAP names from the WSDL on first use"""
    erp_max_retries: int = Field(default=3, ge=0, le=10)
    """retries of a read that failed on the way (never of a create)"""
    erp_status_ttl_s: float = Field(default=60.0, ge=0)
    """how long a ping result is reused (seconds)"""
    erp_breaker_failures: int = Field(default=5, ge=1)
    """consecutive connection failures that open the circuit breaker"""
    erp_breaker_cooldown_s: float = Field(default=30.0, gt=0)
    """how long an open breaker refuses calls before one probe (seconds)"""
    # ERP client retry policy (reads only; see README "The protocol"): first back-off, its cap, and
    # the longest Retry-After we wait for before giving up with ErpBusyError.
    erp_retry_backoff_s: float = Field(default=0.5, ge=0, le=60)
    """first back-off between retries (seconds, doubled each time, with jitter)"""
    erp_retry_backoff_max_s: float = Field(default=8.0, ge=0, le=300)
    """the back-off's cap (seconds)"""
    erp_retry_after_max_s: float = Field(default=30.0, ge=0, le=900)
    """the longest Retry-After waited for before giving up (seconds)"""
    # Largest SOAP response call() reads into memory; batch fetches use stream() instead.
    erp_max_response_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    """largest answer a call reads into memory (batch fetches stream)"""
    erp_limit_in_flight: int = Field(default=5, ge=0, le=1000)
    """requests in flight to the ERP at most, per principal, across every container (BC online
    allows 5); 0 turns the shared limiter off"""
    erp_limit_requests: int = Field(default=6000, ge=1)
    """requests started per window at most, per principal (BC online: 6,000 per 5 minutes)"""
    erp_limit_window_s: float = Field(default=300.0, gt=0, le=3600)
    """the limiter's sliding window in seconds"""
    erp_limit_live_wait_s: float = Field(default=5.0, ge=0, le=900)
    """how long a live read (prices, stock, basket, documents) waits for room before it falls back"""
    erp_limit_order_wait_s: float = Field(default=2.0, ge=0, le=900)
    """how long an order waits for room before it is queued for the export"""
    erp_limit_batch_wait_s: float = Field(default=600.0, ge=0, le=3600)
    """how long a batch fetch, an order export or a price audit's quote waits for room before it fails"""
    erp_limiter_table: str | None = None
    """DynamoDB table holding the shared limiter state (in AWS: the breaker table)"""
    erp_limiter_file: Path | None = None
    """SQLite file holding the limiter state shared by local processes (unset and no table: one
    process's memory)"""

    @model_validator(mode="after")
    def _credentials_match_auth_mode(self) -> ErpSettings:
        required: dict[str, tuple[str, ...]] = {
            "none": (),
            "key": ("erp_security_key",),
            "basic": ("erp_user", "erp_password"),
            "oauth2": ("erp_client_id", "erp_client_secret"),
        }
        missing = [name for name in required[self.erp_auth] if getattr(self, name) in (None, "")]
        if self.erp_auth == "oauth2" and self.erp_token_url is None and not self.erp_tenant:
            missing.append("erp_token_url (or erp_tenant)")
        if missing:
            names = ", ".join(ENV_PREFIX + m.upper() for m in missing)
            raise ValueError(f"ERPBRIDGE_ERP_AUTH={self.erp_auth} needs {names}")
        return self

    @property
    def soap_namespace(self) -> str:
        return self.erp_soap_namespace or f"urn:microsoft-dynamics-schemas/codeunit/{self.erp_soap_service}"

    @property
    def token_url(self) -> str | None:
        if self.erp_token_url is not None:
            return str(self.erp_token_url)
        if self.erp_tenant:
            return f"https://login.microsoftonline.com/{self.erp_tenant}/oauth2/v2.0/token"
        return None


_SECRET_ERP_FIELDS = frozenset(
    name
    for name, field in ErpSettings.model_fields.items()
    if SecretStr in (field.annotation, *get_args(field.annotation))
)


class ErpEndpointSettings(Section):
    """More ERP endpoints, per shop (docs/erp-endpoints.md): the ERPBRIDGE_ERP_* settings are the
    default endpoint's, which every entry starts from."""

    title: ClassVar[str] = "Several ERP endpoints"

    erp_endpoints: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """more ERP endpoints by name, as JSON: {"nordic": {"shops": ["SHOP2"], "currencies": ["SEK"],
    "url": "...", "auth": "basic", "user": "...", "password": "..."}}; shops (and optionally
    currencies) say which requests go there, every other key is an ERPBRIDGE_ERP_* setting without
    that prefix (unset ones are the default endpoint's)"""
    erp_default_shops: tuple[str, ...] = ()
    """the shops the default endpoint serves, as a JSON list; empty: every shop no
    ERPBRIDGE_ERP_ENDPOINTS entry names (set it and other shops are refused as unknown)"""

    @field_validator("erp_endpoints")
    @classmethod
    def _secrets_stay_secret(cls, endpoints: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """An entry's password, key or client secret is held as SecretStr (never logged or echoed)."""
        return {
            name: {
                key: SecretStr(value)
                if isinstance(value, str) and f"erp_{key.lower()}" in _SECRET_ERP_FIELDS
                else value
                for key, value in entry.items()
            }
            for name, entry in endpoints.items()
        }


class StorageSettings(Section):
    """Where erpbridge keeps its state: the shop database, AWS tables and buckets, or local files."""

    title: ClassVar[str] = "Storage: the shop database, tables, buckets and the state folder"

    stage: str = "local"
    """the deployment stage (dev, test, prod; local on a laptop)"""
    database_url: str = "sqlite:///.erpbridge/shop.db"
    """the shop database (SQLAlchemy URL); built from ERPBRIDGE_DB_SECRET_NAME when that is set"""
    # In AWS: the database secret in the RDS format (username, password, host, port, dbname,
    # engine); database_url is then built from it, and rotated credentials are picked up.
    db_secret_name: str | None = None
    """Secrets Manager secret of the shop database in the RDS format (username, password, host,
    port, dbname, engine)"""
    db_host: str | None = Field(
        default=None, description="replaces the secret's host (an RDS Proxy endpoint)"
    )
    db_iam_auth: bool = Field(
        default=False, description="IAM database authentication instead of the password"
    )
    db_sslmode: str = "require"
    """PostgreSQL sslmode of a database built from the secret"""
    db_credentials_ttl_s: float = Field(default=300.0, ge=0)
    """how long database credentials are used before the secret is read again (seconds)"""
    import_statement_timeout_s: float = Field(default=300.0, gt=0, lt=900)
    """how long one statement of an import, or one pause between two of its statements, may last
    on PostgreSQL (statement_timeout and idle_in_transaction_session_timeout; seconds, below the
    import function's 900 s timeout): the most a killed import's server session can cost"""
    staging_bucket: str | None = None
    """S3 bucket of staged, archived and failed batch files"""
    runs_table: str | None = None
    """DynamoDB table of batch run records (locally: files in the state folder)"""
    locks_table: str | None = None
    """DynamoDB table of batch job locks"""
    cache_table: str | None = None
    """DynamoDB table of the shared price and basket cache"""
    breaker_table: str | None = Field(default=None, description="DynamoDB table of the shared breaker state")
    idempotency_table: str | None = None
    """DynamoDB table of staged-file import claims"""
    orders_xml_bucket: str | None = None
    """S3 bucket of the orders' request/response XML copies"""
    orders_xml_prefix: str = "orders-xml"
    """key prefix of the orders' XML copies in the orders XML bucket"""
    state_dir: str = ".erpbridge"
    """local state folder (runs, locks, order XML) when not in AWS"""


class PricingSettings(Section):
    """Live prices and baskets: what is asked of the ERP, and how long answers are reused."""

    title: ClassVar[str] = "Prices and baskets (the live API)"

    anonymous_user_key: str = "Anonymous"
    """the customer number sent to BC for anonymous prices"""
    local_currency: str | None = None
    """BC's local currency code (sent as empty); also the fallback's currency when the shop
    database names none"""
    price_audit_sample: int = Field(default=200, ge=1, le=10_000)
    """how many customer × product × quantity × currency combinations the scheduled price audit checks"""
    max_products_per_request: int = Field(default=50, ge=1, le=1000)
    """products per ERP price request (a longer list is sent in chunks)"""
    price_cache_ttl_s: int = Field(default=300, ge=0)
    """how long a price from BC is served from the cache (seconds)"""
    negative_cache_ttl_s: int = Field(default=60, ge=0)
    """how long "BC does not know this product" is cached (seconds)"""
    live_deadline_s: float = Field(default=5.0, gt=0)
    """how long a price request waits for BC before answering from fallbacks (seconds)"""
    local_cache_ttl_s: float = Field(default=10.0, ge=0, description="per-container cache layer lifetime")
    stale_fallback_s: float = Field(
        default=86_400.0, ge=0, description="how long expired prices may serve as fallback"
    )
    basket_cache_ttl_s: float = Field(default=300.0, ge=0)
    """how long an unchanged basket is answered from the cache (seconds)"""


class DegradationSettings(Section):
    """What the live API does while the ERP cannot answer (erpbridge.live.degradation; the stale
    window of prices is ERPBRIDGE_STALE_FALLBACK_S). docs/degradation.md has the trade-offs."""

    title: ClassVar[str] = "While the ERP is down (the live API)"

    degrade_prices: str = Field(default="cache-stale,shop-prices", pattern=_PRICE_FALLBACKS)
    """prices while the ERP is down: fallback sources tried in this order (cache-stale: an expired
    cached price within the stale window; shop-prices: the shop database's imported price), or
    refuse (503 with Retry-After)"""
    degrade_stock: Literal["last-known", "hide", "unknown"] = "last-known"
    """stock while the ERP is down: last-known (the fallback's figure with stock_age_s), hide
    (stock_status hidden) or unknown (stock_status unknown)"""
    degrade_basket: Literal["estimate", "refuse"] = "estimate"
    """baskets while the ERP is down: estimate (erpbridge's sum from fallback prices, flagged
    estimate=true) or refuse (503 with Retry-After)"""
    degrade_checkout: Literal["queue", "refuse"] = "queue"
    """orders while the ERP is down: queue (202, sent by Export Failed Orders) or refuse (503 with
    Retry-After; the order is kept as declined and never sent on its own)"""
    degrade_retry_after_s: float = Field(default=30.0, gt=0, le=3600)
    """the Retry-After of a refusal while the ERP is down (prices, baskets, checkout, documents)"""


class OrderSettings(Section):
    """Orders: the document sent to the ERP, and Export Failed Orders."""

    title: ClassVar[str] = "Orders (the live API and Export Failed Orders)"

    order_export_after_s: float = Field(default=300.0, ge=0, description="X: export orders older than this")
    order_export_batch: int = Field(default=25, ge=1, le=500, description="N: orders per export run")
    order_max_attempts: int = Field(
        default=5, ge=1, le=100, description="K: counted failures before dead-letter"
    )
    order_lookup_search_field: str = "ExternalDocumentNo"
    """the BC field GetList searches to find an order whose outcome is unknown (empty: no lookup)"""
    order_lookup_number_column: str = "No"
    """the column of the found sales order's number"""
    order_unknown_settle_s: float = Field(
        default=120.0,
        ge=0,
        description="seconds after an unknown send during which an order the ERP does not show yet is not "
        "re-sent (the ERP may still commit it)",
    )
    erp_shipping_item_type: str = "ItemCharge"
    """the order line type the shipping fee is sent as"""
    erp_shipping_item_key: str = "DW-SHIP"
    """the item (charge) number of the shipping fee line"""


class CustomerTokenSettings(Section):
    """Customer-scoped tokens (JWT): verified with a public key, a JWKS URL or (dev only) a secret."""

    title: ClassVar[str] = "Customer tokens (the live API)"

    jwt_required: bool = False
    """refuse calls without a customer token"""
    jwt_public_key: str | None = None
    """PEM public key that customer tokens are signed with"""
    jwt_jwks_url: str | None = None
    """JWKS URL of the customer-token issuer"""
    jwt_secret: SecretStr | None = None
    """HS256 secret of customer tokens (development only)"""
    jwt_algorithms: tuple[str, ...] = ("RS256",)
    """accepted signing algorithms"""
    jwt_audience: str | None = None
    """the audience tokens must name (checked when set)"""
    jwt_issuer: str | None = None
    """the issuer tokens must name (checked when set)"""
    jwt_customer_claim: str = "customer_number"
    """the claim holding the BC customer number"""


class AdminSettings(Section):
    """Who may use the admin API and the operator console."""

    title: ClassVar[str] = "The admin API and console"

    admin_auth: Literal["iam", "token"] = "token"
    """iam: the operator is the IAM principal API Gateway authorised (SigV4); token: a local console's
    token (printed at start) in a cookie or an Authorization: Bearer header"""
    admin_token: SecretStr | None = Field(default=None, min_length=16)
    """the local console's token (admin_auth=token); `erpbridge console` makes one at start"""
    admin_operators: tuple[str, ...] = ()
    """IAM principal ARNs (or prefixes ending in *) allowed to act (admin_auth=iam); empty: any
    principal the API's IAM policy lets in"""
    admin_operator_name: str = "local operator"
    """the name a token holder's actions are recorded under (admin_auth=token)"""
    admin_workflow_arn: str | None = None
    """the long-run workflow (Step Functions state machine) a Run now of a long_running job starts
    in AWS (template output LongRunWorkflowArn); empty: such a job is fetched like any other"""
    admin_schedule_prefix: str | None = None
    """in AWS: the EventBridge Scheduler schedules are named <prefix><job> (template.yaml:
    <stack>-); the jobs' enabled is their State, and the admin API can switch them. Empty: a job
    is enabled when its job file has a schedule"""
    admin_schedule_group: str = "default"
    """the EventBridge Scheduler group of the jobs' schedules"""
    admin_latency_namespace: str | None = None
    """in AWS: the CloudWatch namespace of the live function's ErpLatency metric (erpbridge/<Stage>);
    the health page's latency over the last hour is read from it. Empty: the latencies this process
    measured"""
    admin_latency_service: str = "erpbridge"
    """the metric's service dimension (POWERTOOLS_SERVICE_NAME of the live function)"""


class Settings(
    ErpSettings,
    ErpEndpointSettings,
    StorageSettings,
    PricingSettings,
    DegradationSettings,
    OrderSettings,
    CustomerTokenSettings,
    AdminSettings,
    BaseSettings,
):
    """Everything a function or the CLI needs, every section in one. Read it with :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    @classmethod
    def sections(cls) -> tuple[type[Section], ...]:
        """The sections, in the order of ``docs/settings.md``."""
        return tuple(base for base in cls.__bases__ if issubclass(base, Section))

    @model_validator(mode="after")
    def _endpoints_are_valid(self) -> Settings:
        for name, entry in self.erp_endpoints.items():
            endpoint_erp_settings(self, name, entry)
        return self


class _TextSource(EnvSettingsSource):
    """pydantic-settings' environment source over given ``ERPBRIDGE_*`` texts (the environment,
    SSM parameters and Secrets Manager values alike), so each is parsed the same way."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self._texts = {name.lower(): value for name, value in texts.items()}
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._texts

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        try:
            return super().prepare_field_value(field_name, field, value, value_is_complex)
        except ValueError:
            raise ConfigurationError(
                f"invalid settings: {ENV_PREFIX}{field_name.upper()}: not valid JSON"
            ) from None


ENDPOINT_ROUTES = ("shops", "currencies")
"""The keys of an ERPBRIDGE_ERP_ENDPOINTS entry that choose requests rather than set the ERP."""


def endpoint_erp_settings(settings: ErpSettings, name: str, entry: Mapping[str, Any]) -> ErpSettings:
    """ERPBRIDGE_ERP_ENDPOINTS' entry ``name`` as ERP settings: the default endpoint's, with the
    entry's keys (ERPBRIDGE_ERP_* names without that prefix, any case) replacing them."""
    where = f"{ENV_PREFIX}ERP_ENDPOINTS[{name}]"
    values = {field: getattr(settings, field) for field in ErpSettings.model_fields}
    for key, value in entry.items():
        field = "erp_" + key.lower()
        if key.lower() in ENDPOINT_ROUTES:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ConfigurationError(f"{where}: {key} must be a list of non-empty strings")
        elif field in ErpSettings.model_fields:
            values[field] = value
        else:
            raise ConfigurationError(f"{where}: {key!r} is not an ERPBRIDGE_ERP_* setting")
    try:
        return ErpSettings.model_validate(values)
    except ValidationError as error:
        raise ConfigurationError(where + ": " + _describe(error)) from None


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        loc = item.get("loc") or ()
        # Never echo the input: it may be a secret.
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        # A check across fields (no location) names its variables in its own message.
        problems.append(f"{ENV_PREFIX}{str(loc[0]).upper()}: {message}" if loc else message)
    return "invalid settings: " + "; ".join(problems)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _remote_values(env: Mapping[str, str]) -> dict[str, str]:
    """Settings held in SSM / Secrets Manager (AWS only) as ``ERPBRIDGE_*`` texts, read through
    Powertools (cached)."""
    values: dict[str, str] = {}
    ssm_path = env.get(ENV_PREFIX + "SSM_PATH")
    secret_name = env.get(ENV_PREFIX + "SECRETS_NAME")
    if not ssm_path and not secret_name:
        return values
    from aws_lambda_powertools.utilities import parameters  # AWS only: keep it off the local path

    if ssm_path:
        for key, value in parameters.get_parameters(ssm_path, decrypt=True).items():
            values[ENV_PREFIX + key.rsplit("/", 1)[-1].upper()] = _text(value)
    if secret_name:
        secret = parameters.get_secret(secret_name, transform="json")
        if not isinstance(secret, dict):
            raise ConfigurationError(f"{ENV_PREFIX}SECRETS_NAME: secret {secret_name!r} is not a JSON object")
        # A null leaves the setting at its default, as an unset variable does.
        values.update(
            {
                ENV_PREFIX + str(key).upper(): _text(value)
                for key, value in secret.items()
                if value is not None
            }
        )
    return values


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Every section from ``env`` (default: the process environment), SSM and Secrets Manager,
    validated; ``overrides`` (field names) win over all three."""
    source = dict(os.environ if env is None else env)
    texts = {name: value for name, value in source.items() if name.upper().startswith(ENV_PREFIX)}
    texts.update(_remote_values(source))
    try:
        settings = Settings.model_validate({**_TextSource(texts)(), **overrides})
    except ValidationError as error:
        raise ConfigurationError(_describe(error)) from None
    if settings.db_secret_name and "database_url" not in overrides:
        settings = settings.model_copy(update={"database_url": _database_from_secret(settings)})
    return settings


def _database_from_secret(settings: Settings) -> str:
    """The URL built from the RDS-format secret, with its credentials registered for new connections."""
    from aws_lambda_powertools.utilities import parameters  # AWS only: keep it off the local path

    from erpbridge.db_credentials import (
        DatabaseCredentials,
        database_url_from_secret,
        iam_token_for,
        register,
    )

    name = str(settings.db_secret_name)

    def read() -> dict[str, Any]:
        secret = parameters.get_secret(name, transform="json", force_fetch=True)
        if not isinstance(secret, dict):
            raise ConfigurationError(f"{ENV_PREFIX}DB_SECRET_NAME: secret {name!r} is not a JSON object")
        return secret

    secret = read()
    url = database_url_from_secret(
        secret, secret_name=name, host=settings.db_host, sslmode=settings.db_sslmode
    )
    token = None
    if settings.db_iam_auth:
        token = iam_token_for(url)
    credentials = DatabaseCredentials(read, ttl_s=settings.db_credentials_ttl_s, token=token, initial=secret)
    register(url, credentials)
    return url


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, validated on first use."""
    return load_settings()


def credential_reloader(settings: Settings) -> Callable[[], Settings] | None:
    """How to read ``settings`` again for rotated credentials: only where they come from a secret
    store (in AWS); environment variables cannot change under a running process."""
    if not (os.environ.get(ENV_PREFIX + "SECRETS_NAME") or os.environ.get(ENV_PREFIX + "SSM_PATH")):
        return None
    return load_settings

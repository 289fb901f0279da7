"""IAM database authentication: a short-lived RDS auth token (15 minutes) as the password."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import sqlalchemy as sa


def iam_token_for(database_url: str) -> Callable[[str], str]:
    """A token generator for ``database_url``'s host and port (signed locally: no network call)."""
    url = sa.make_url(database_url)
    client = boto3.client("rds")
    host, port = str(url.host), int(url.port or 5432)

    def token(user: str) -> str:
        return str(client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user))

    return token

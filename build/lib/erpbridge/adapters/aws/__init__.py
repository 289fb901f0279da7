"""AWS adapters (boto3): imported only where AWS is used, never by domain code."""

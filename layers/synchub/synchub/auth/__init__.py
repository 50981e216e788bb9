"""Who is calling: IAM principals and the user pool's access tokens, with their scopes."""

"""Sources (http, postgresql, mysql, files in S3) and destinations (the data lake, DynamoDB)."""

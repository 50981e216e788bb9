"""The one DynamoDB access layer: stores for tasks, data sources and the statistics aggregate."""

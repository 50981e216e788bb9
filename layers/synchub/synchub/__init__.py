"""SyncHub: the shared package of every SyncHub Lambda function (deployed as a layer)."""

__version__ = "0.1.0"

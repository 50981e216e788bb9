"""The web dashboard as static files: which files make the site, its config, and publishing it to S3."""

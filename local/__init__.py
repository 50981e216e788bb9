"""The Docker-free local stack: template.yaml served on an embedded AWS emulator (moto)."""

"""The HTTP edge: one resolver factory and one error → problem-details mapping for every route."""

from synchub.api.resolver import caller_of, create_app, json_response, problem_response

__all__ = ["caller_of", "create_app", "json_response", "problem_response"]

"""Typed activities: one contract model in, one call into bluegreen/, one contract model out.

The Durable boundary carries JSON objects. `@activity` registers a handler that validates the input
into the function's annotated model, calls it, and returns the result model as JSON. A temporary
Azure error (throttling, 5xx) is raised, so the orchestrator's retry policy tries again later; a
permanent one (bad request, conflict, not found) comes back as `ActivityFailure`: retrying would only
repeat it, and the orchestrator turns it into the run's reason.

The models are read from the annotations on first call, not at import (cold start, see bluegreen.lazy).
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable
from functools import cached_property
from typing import Any, Generic, TypeVar

import azure.durable_functions as df

from bluegreen.lazy import contract, errors

log = logging.getLogger("bluegreen.activities")

In = TypeVar("In", bound="contract.Contract")
Out = TypeVar("Out", bound="contract.Contract")


class Activity(Generic[In, Out]):
    """A registered activity: what the orchestrator calls (`builder`) and the models at each end."""

    def __init__(self, builder: Any, fn: Callable[[In], Out]) -> None:
        self.builder = builder  # the FunctionBuilder: call_activity(builder, ...) names the function
        self.fn = fn
        self.name: str = fn.__name__

    @cached_property
    def _types(self) -> tuple[type[In], type[Out]]:
        hints = typing.get_type_hints(self.fn)
        first = next(iter(inspect.signature(self.fn).parameters))
        return hints[first], hints["return"]

    @property
    def input_type(self) -> type[In]:
        return self._types[0]

    @property
    def output_type(self) -> type[Out]:
        return self._types[1]

    def handle(self, payload: Any) -> contract.Wire:
        request = self.input_type.model_validate(payload)
        try:
            return contract.wire(self.fn(request))
        except errors.TemporaryError:
            raise
        except Exception as exc:
            error = errors.classify(exc)
            if error.temporary:
                raise error from exc
            log.warning("%s: permanent error %s", self.name, error.code)
            return contract.wire(contract.ActivityFailure(permanent_error=error.info()))


def activity(bp: df.Blueprint) -> Callable[[Callable[[In], Out]], Activity[In, Out]]:
    """Register `fn(request: Model) -> Model` as an activity named after the function."""

    def register(fn: Callable[[In], Out]) -> Activity[In, Out]:
        typed: Activity[In, Out] = Activity(None, fn)

        # The registered function takes and returns plain JSON (the SDK's converters); its only
        # parameter is named like the binding, as the Functions worker requires.
        def handler(payload: dict) -> dict:  # plain types: the Functions worker reads these annotations
            return typed.handle(payload)

        handler.__name__ = handler.__qualname__ = fn.__name__
        handler.__doc__ = fn.__doc__
        handler.__module__ = fn.__module__
        typed.builder = bp.activity_trigger(input_name="payload")(handler)
        return typed

    return register

"""Load a function app module once and index its functions by trigger, as the Functions host does at start-up."""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any


class AppLoadError(Exception):
    """The function app file could not be found or imported."""


@dataclass(frozen=True)
class IndexedFunction:
    name: str
    trigger_type: str  # "orchestrationTrigger" | "activityTrigger" | "httpTrigger" | "eventGridTrigger" | ...
    trigger_name: str  # the parameter the trigger value is passed as
    trigger: dict[str, Any]  # the trigger binding, function.json-like
    client_binding: str | None  # the parameter that receives the durable client binding JSON, if any
    user_function: Any
    wants_context: bool  # the function takes a `context: func.Context` parameter

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)


@dataclass
class AppIndex:
    module: ModuleType
    functions: dict[str, IndexedFunction] = field(default_factory=dict)
    task_hub: str = "TestHubName"

    def by_trigger(self, trigger_type: str) -> dict[str, IndexedFunction]:
        return {n: f for n, f in self.functions.items() if f.trigger_type == trigger_type}

    def orchestrator(self, name: str) -> IndexedFunction | None:
        return self._lookup(name, "orchestrationTrigger", "orchestration")

    def activity(self, name: str) -> IndexedFunction | None:
        return self._lookup(name, "activityTrigger", "activity")

    def _lookup(self, name: str, trigger_type: str, alias_key: str) -> IndexedFunction | None:
        fn = self.functions.get(name)
        if fn is not None and fn.trigger_type == trigger_type:
            return fn
        # `@app.activity_trigger(activity="x")` names the activity in the binding, not the function.
        for candidate in self.by_trigger(trigger_type).values():
            if candidate.trigger.get(alias_key) == name:
                return candidate
        return None


# app.get_functions() is not idempotent (a second call raises "does not have a unique function name"),
# so every module is indexed once per process and the index is shared by every host that loads it.
_CACHE: dict[Any, AppIndex] = {}
_CACHE_LOCK = threading.Lock()


def load_app(app: str | Path | ModuleType) -> AppIndex:
    with _CACHE_LOCK:
        if isinstance(app, ModuleType):
            key: Any = ("module", id(app))
            if key not in _CACHE:
                _CACHE[key] = _index(app, None)
            return _CACHE[key]
        path = Path(app).resolve()
        key = ("path", str(path))
        if key not in _CACHE:
            _CACHE[key] = _index(_import_file(path), path.parent)
        return _CACHE[key]


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise AppLoadError(f"function app file not found: {path}")
    # Core Tools runs with the app folder as the working directory, so its sibling packages import.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path:
        return existing
    if existing is not None:
        name = f"_functions_host_app_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise AppLoadError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _index(module: ModuleType, folder: Path | None) -> AppIndex:
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_functions"):
        raise AppLoadError(f"{module.__name__} has no module-level `app` (df.DFApp or func.FunctionApp)")
    index = AppIndex(module=module, task_hub=_task_hub(folder))
    for function in app.get_functions():
        bindings = [_plain(b.get_dict_repr()) for b in function.get_bindings()]
        trigger = _plain(function.get_trigger().get_dict_repr())
        client = next((b["name"] for b in bindings if b.get("type") == "durableClient"), None)
        user_function = function.get_user_function()
        original = getattr(user_function, "client_function", user_function)
        try:
            params = inspect.signature(original).parameters
        except (TypeError, ValueError):
            params = {}
        binding_names = {b["name"] for b in bindings}
        index.functions[function.get_function_name()] = IndexedFunction(
            name=function.get_function_name(),
            trigger_type=trigger["type"],
            trigger_name=trigger["name"],
            trigger=trigger,
            client_binding=client,
            user_function=user_function,
            wants_context="context" in params and "context" not in binding_names,
        )
    return index


def _plain(binding: dict[str, Any]) -> dict[str, Any]:
    # Binding dicts hold enums (direction, methods, authLevel); the host wants their string values.
    return json.loads(json.dumps(binding, default=lambda v: getattr(v, "value", str(v))))


def _task_hub(folder: Path | None) -> str:
    host_json = folder / "host.json" if folder else None
    if host_json is None or not host_json.is_file():
        return "TestHubName"
    try:
        config = json.loads(host_json.read_text())
        return config["extensions"]["durableTask"]["hubName"]
    except (ValueError, KeyError, TypeError):
        return "TestHubName"

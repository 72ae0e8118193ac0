"""The azd template, checked offline: no Bicep compiler, Azure CLI or subscription is reachable here.

Every Bicep file parses (pycep-parser); modules get exactly the parameters they declare and expose the outputs
their callers read; main.parameters.json fits main.bicep; azure.yaml has what azd needs; the app settings the
template defines are the ones the code reads; Easy Auth leaves open exactly the doors machines call; the
storage, Flex Consumption, role and checkov settings are the ones the design needs. `bash infra/check.sh` runs
checkov on top (not here: it lives in its own virtual environment).
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
API = INFRA / "app" / "api.bicep"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# The app's code: the modules function_app.py reaches through imports (and bluegreen.lazy's lazy_import). The
# command-line tools in bluegreen/ (python -m bluegreen ..., the postdeploy hook's wiring) run on an operator's
# machine, not in the Function App, so the settings they read are not app settings.
APP_PACKAGES = ("bluegreen", "triggers", "activities", "orchestrators")
SETTING_READS = [
    re.compile(r"""(?:environ|env)\.get\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""),
    re.compile(r"""getenv\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""["'](BLUEGREEN_[A-Z0-9_]+)["']"""),
]
# Read by the code, but not the template's to set: App Service sets WEBSITE_* on every app (WEBSITE_HOSTNAME, the
# host the callbacks are built from; WEBSITE_INSTANCE_ID; WEBSITE_AUTH_ENABLED, true behind Easy Auth).
SET_BY_THE_PLATFORM = re.compile(r"WEBSITE_[A-Z0-9_]+")
EMULATED_ONLY = {
    "BLUEGREEN_ARM_ENDPOINT": "defaults to public ARM; only the emulated Azure points it elsewhere",
    "BLUEGREEN_METRICS_ENDPOINT": "defaults to the public metrics endpoint; only the emulated Azure moves it",
    "BLUEGREEN_CA_BUNDLE": "the emulated Azure's self-signed CA",
    "BLUEGREEN_PROBE_BASE": "the emulated Azure answers green's smoke probes",
    "BLUEGREEN_KEYVAULT_BASE": "the emulated Azure serves Key Vault at a local path",
}
# Not read by the app's code, but by a library it calls: the template must set them.
READ_BY_LIBRARIES = {
    "AZURE_CLIENT_ID": "DefaultAzureCredential picks the user-assigned managed identity by its client id",
}
# Flex Consumption takes these from functionAppConfig or sets them itself ("Flex Consumption plan deprecations").
FLEX_DEPRECATED = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
}

# azure.yaml's top-level properties in azd's schema (Azure/azure-dev schemas/v1.0/azure.yaml.json).
AZD_TOP_LEVEL = {
    "name",
    "resourceGroup",
    "metadata",
    "infra",
    "services",
    "resources",
    "pipeline",
    "hooks",
    "requiredVersions",
    "state",
    "platform",
    "workflows",
    "cloud",
}
HOOK_COMMAND = "python infra/hooks/postdeploy.py"

RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
STORAGE_DATA_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88",  # Storage Queue Data Contributor
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",  # Storage Table Data Contributor
}


@cache
def parser() -> BicepParser:
    return BicepParser()


@cache
def bicep(path: Path) -> dict[str, Any]:
    parsed: dict[str, Any] = dict(parser().parse(file_path=path))
    return parsed


def body(entity: dict[str, Any]) -> dict[str, Any]:
    """A resource's or module's own configuration, under any `if (...)` and `[for ...]` wrappers."""
    config = entity["config"]
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def resource(path: Path, symbol: str) -> dict[str, Any]:
    return body(bicep(path)["resources"][symbol])


def modules(path: Path) -> dict[str, Path]:
    return {
        symbol: (path.parent / module["detail"]["path"]).resolve()
        for symbol, module in bicep(path).get("modules", {}).items()
        if module["type"] == "local"
    }


# ---- every file parses, and the files fit together


@pytest.mark.parametrize("path", BICEP_FILES, ids=[str(p.relative_to(INFRA)) for p in BICEP_FILES])
def test_every_bicep_file_parses(path: Path) -> None:
    parsed = bicep(path)
    assert parsed.get("resources") or parsed.get("modules"), f"{path.name} declares nothing"


def test_the_template_has_its_files() -> None:
    names = {str(p.relative_to(INFRA)) for p in BICEP_FILES}
    assert {"main.bicep", "app/api.bicep", "app/role.bicep", "app/operator-access.bicep"} <= names
    assert bicep(MAIN)["globals"]["scope"]["value"] == "subscription"


@pytest.mark.parametrize("path", BICEP_FILES, ids=[str(p.relative_to(INFRA)) for p in BICEP_FILES])
def test_modules_get_the_parameters_they_declare(path: Path) -> None:
    for symbol, target in modules(path).items():
        assert target.is_file(), f"{path.name}: module {symbol} points at a missing {target}"
        declared = bicep(target)["parameters"]
        given = set(body(bicep(path)["modules"][symbol]).get("params", {}))
        required = {name for name, param in declared.items() if param["default"] is None}
        assert given <= set(declared), f"{path.name}: module {symbol} gets unknown {sorted(given - set(declared))}"
        assert required <= given, f"{path.name}: module {symbol} misses {sorted(required - given)}"


@pytest.mark.parametrize("path", BICEP_FILES, ids=[str(p.relative_to(INFRA)) for p in BICEP_FILES])
def test_module_outputs_read_exist(path: Path) -> None:
    targets = modules(path)
    for symbol, output in re.findall(r"\b(\w+)\.outputs\.(\w+)", path.read_text(encoding="utf-8")):
        assert symbol in targets, f"{path.name}: {symbol}.outputs.{output}: {symbol} is not a module"
        assert output in bicep(targets[symbol]).get("outputs", {}), f"{path.name}: {symbol} has no output {output}"


def test_parameters_file_matches_main() -> None:
    declared = bicep(MAIN)["parameters"]
    given = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    required = {name for name, param in declared.items() if param["default"] is None}
    assert set(given) <= set(declared), f"unknown parameters: {sorted(set(given) - set(declared))}"
    assert required <= set(given), f"parameters without a default and no value: {sorted(required - set(given))}"
    # azd fills these from the environment it creates.
    assert given["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert given["location"]["value"] == "${AZURE_LOCATION}"
    assert given["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"
    for name, entry in given.items():
        assert re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*(=[^}]*)?\}", str(entry["value"])), f"{name}: not an azd variable"


def test_outputs_cover_what_the_postdeploy_hook_requires() -> None:
    hook = INFRA / "hooks" / "postdeploy.py"
    required = re.search(r"REQUIRED\s*=\s*\(([^)]*)\)", hook.read_text(encoding="utf-8")) if hook.is_file() else None
    if required is None:
        pytest.skip("the postdeploy hook names no REQUIRED settings")
    outputs = set(bicep(MAIN)["outputs"])
    set_by_azd = {"AZURE_SUBSCRIPTION_ID", "AZURE_ENV_NAME", "AZURE_LOCATION"}
    for name in re.findall(r"""["']([A-Z][A-Z0-9_]*)["']""", required.group(1)):
        assert name in outputs | set_by_azd, f"the hook needs {name}: neither an output of main.bicep nor azd's"
    assert {"SERVICE_API_NAME", "AZURE_FUNCTION_APP_NAME", "AZURE_RESOURCE_GROUP", "BLUEGREEN_CONFIG"} <= outputs


@pytest.mark.parametrize("path", BICEP_FILES, ids=[str(p.relative_to(INFRA)) for p in BICEP_FILES])
def test_secure_parameters_hold_no_secret_default(path: Path) -> None:
    # What CKV_AZURE_131 checks (skipped in .checkov.yaml: it also flags newGuid(), a fresh value per deployment).
    for name, param in bicep(path)["parameters"].items():
        if any(d["type"] == "secure" for d in param["decorators"]):
            default = param["default"]
            assert default in (None, "") or default == {"function": {"type": "new_guid"}}, f"{path.name}: {name}"


# ---- azure.yaml


def test_azure_yaml_has_what_azd_needs() -> None:
    config = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert set(config) <= AZD_TOP_LEVEL, f"unknown top-level keys: {sorted(set(config) - AZD_TOP_LEVEL)}"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", config["name"])
    api = config["services"]["api"]
    assert (api["project"], api["language"], api["host"]) == (".", "python", "function")
    hook = config["hooks"]["postdeploy"]
    assert hook["posix"] == {"shell": "sh", "run": HOOK_COMMAND}
    assert hook["windows"] == {"shell": "pwsh", "run": HOOK_COMMAND}
    assert (ROOT / HOOK_COMMAND.split()[1]).is_file()


# ---- app settings


def module_file(name: str) -> Path | None:
    if name.split(".")[0] not in APP_PACKAGES:
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path, module: str) -> set[str]:
    """Every module name `path` imports, as written or through lazy_import("..."), with its parents."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base = ".".join([*parts, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from package import module`
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_import" and node.args:
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names.add(argument.value)
    return {".".join(name.split(".")[:i]) for name in names for i in range(1, name.count(".") + 2)}


@cache
def app_modules() -> frozenset[Path]:
    found: set[Path] = set()
    todo = [("function_app", ROOT / "function_app.py")]
    while todo:
        module, path = todo.pop()
        if path in found:
            continue
        found.add(path)
        for name in imported_names(path, module):
            target = module_file(name)
            if target is not None and target not in found:
                todo.append((name, target))
    return frozenset(found)


def settings_the_code_reads() -> set[str]:
    found: set[str] = set()
    for path in sorted(app_modules()):
        text = path.read_text(encoding="utf-8")
        for pattern in SETTING_READS:
            found.update(pattern.findall(text))
    return found


def template_app_settings() -> dict[str, Any]:
    """What the appsettings resource sets: the fixed settings and the defaults additionalAppSettings may replace."""
    variables = bicep(API)["variables"]
    settings = {**variables["overridableSettings"]["value"], **variables["appSettings"]["value"]}
    assert isinstance(settings, dict)
    return settings


def test_the_app_modules_are_found() -> None:
    modules = {str(path.relative_to(ROOT)) for path in app_modules()}
    assert {"bluegreen/azure.py", "bluegreen/config.py", "bluegreen/secrets.py", "triggers/alerts.py"} <= modules
    assert "activities/clusters.py" in modules and "orchestrators/bluegreen_upgrade.py" in modules
    assert "bluegreen/cli.py" not in modules  # the command line runs on an operator's machine


def test_app_settings_are_the_ones_the_code_reads() -> None:
    found = {name for name in settings_the_code_reads() if not SET_BY_THE_PLATFORM.fullmatch(name)}
    assert set(EMULATED_ONLY) <= found, "a listed exception is no longer read: drop it"
    expected = (found - set(EMULATED_ONLY)) | set(READ_BY_LIBRARIES)
    defined = {name for name in template_app_settings() if name.startswith("BLUEGREEN_") or name == "AZURE_CLIENT_ID"}
    assert defined == expected


def test_app_settings_fit_flex_consumption_and_identity_based_storage() -> None:
    settings = template_app_settings()
    assert not FLEX_DEPRECATED & set(settings)
    assert "AzureWebJobsStorage" not in settings  # a connection string: keys; the account has them disabled
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    assert settings["BLUEGREEN_AZURE_MODE"] == "azure"
    assert settings["BLUEGREEN_CONFIG"] == "environmentsFile"
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in settings
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"
    # The fixed settings come last in the union: they win over the caller's extra ones, which win over the defaults.
    union = resource(API, "settings")["properties"]["function"]
    arguments = {"arg_1": "overridableSettings", "arg_2": "additionalAppSettings", "arg_3": "appSettings"}
    assert union == {"type": "union", "parameters": arguments}
    variables = bicep(API)["variables"]
    assert not set(variables["overridableSettings"]["value"]) & set(variables["appSettings"]["value"])
    assert settings["BLUEGREEN_PUBLIC_URL"] == "https://${site.properties.defaultHostName}"


def test_the_environments_file_is_deployed_with_the_app() -> None:
    default = bicep(MAIN)["parameters"]["environmentsFile"]["default"]
    assert (ROOT / default).is_file()
    ignored = (ROOT / ".funcignore").read_text(encoding="utf-8").split()
    assert not any(Path(default).match(pattern.rstrip("/")) for pattern in ignored), ".funcignore drops it"


def test_function_app_is_flex_consumption_python_311() -> None:
    plan = resource(API, "plan")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    site = resource(API, "site")
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    assert site["properties"]["httpsOnly"] is True
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert set(config["scaleAndConcurrency"]) == {"instanceMemoryMB", "maximumInstanceCount"}


def test_storage_takes_no_keys_and_grants_the_durable_roles() -> None:
    path = INFRA / "app" / "storage.bicep"
    properties = resource(path, "account")["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["allowBlobPublicAccess"] is False
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True
    assert set(bicep(path)["variables"]["dataRoles"]["value"]) == STORAGE_DATA_ROLES


def test_application_insights_takes_entra_tokens_only() -> None:
    path = INFRA / "app" / "monitoring.bicep"
    assert resource(path, "appInsights")["properties"]["DisableLocalAuth"] is True
    assert bicep(path)["variables"]["monitoringMetricsPublisher"]["value"] == "3913510d-42f4-4e42-8a64-420c390055eb"


# ---- Easy Auth


def machine_doors() -> set[str]:
    """Paths that machines call (no user behind them): every HTTP route outside the operator API's blueprint
    (http_bp: the JSON API and the web pages), plus the Event Grid webhook when an Event Grid trigger exists.

    Read from the blueprints' builders, as tests/triggers does: app.get_functions() may be called only once per
    app object, and the local host makes that call."""
    import triggers

    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    route_prefix = host.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    doors = set()
    for blueprint in triggers.BLUEPRINTS:
        for builder in blueprint._function_builders:
            for binding in builder._function.get_bindings():
                if binding.type == "httpTrigger" and blueprint is not triggers.http_bp:
                    doors.add(f"/{route_prefix}/{binding.route.strip('/')}")
                elif binding.type == "eventGridTrigger":
                    doors.add("/runtime/webhooks/eventgrid")
    return doors


def test_every_trigger_blueprint_is_registered() -> None:
    source = (ROOT / "function_app.py").read_text(encoding="utf-8")
    import triggers

    named = {id(value): name for name, value in vars(triggers).items() if name.endswith("_bp")}
    for blueprint in triggers.BLUEPRINTS:  # the blueprints machine_doors() reads
        assert f"app.register_functions(triggers.{named[id(blueprint)]})" in source


def test_easy_auth_requires_a_user_except_on_the_machine_doors() -> None:
    auth = resource(API, "auth")
    assert auth["name"] == "authsettingsV2"
    properties = auth["properties"]
    assert properties["platform"]["enabled"] is True
    validation = properties["globalValidation"]
    assert validation["requireAuthentication"] is True
    assert validation["unauthenticatedClientAction"] == "Return401"
    assert validation["excludedPaths"] == "anonymousPaths"
    excluded = set(bicep(API)["variables"]["anonymousPaths"]["value"])
    assert excluded == machine_doors() == {"/api/alerts", "/runtime/webhooks/eventgrid"}
    assert not any(path.startswith("/runtime/webhooks/durabletask") for path in excluded)
    entra = properties["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True
    assert entra["registration"]["clientId"] == "authClientId"
    assert entra["registration"]["openIdIssuer"].endswith("/v2.0")


def test_the_machine_doors_never_read_the_caller_headers() -> None:
    # Easy Auth vouches for X-MS-CLIENT-PRINCIPAL* only where it authenticates: not on the excluded paths.
    for module in ("alerts", "eventgrid"):
        source = (ROOT / "triggers" / f"{module}.py").read_text(encoding="utf-8")
        for marker in ("require_caller", "triggers.identity", "from triggers import identity", "x-ms-client-principal"):
            assert marker not in source.lower(), f"triggers/{module}.py reads the caller ({marker})"


# ---- the operator role and the constrained RBAC administration


def test_role_definition_reads_what_the_role_file_has() -> None:
    path = INFRA / "app" / "role.bicep"
    loaded = bicep(path)["variables"]["definition"]["value"]["function"]
    assert loaded["type"] == "load_json_content"
    role_file = (path.parent / loaded["parameters"]["file_path"]).resolve()
    assert role_file == INFRA / "roles" / "bluegreen-operator.json"
    role = json.loads(role_file.read_text(encoding="utf-8"))
    assert isinstance(role["Name"], str) and role["Name"]
    assert isinstance(role["Description"], str)
    for key in ("Actions", "NotActions", "DataActions", "NotDataActions"):
        assert isinstance(role[key], list), key
    # Role assignments come only from the constrained RBAC administrator assignment.
    assert not [a for a in role["Actions"] if a.lower().startswith("microsoft.authorization/roleassignments/w")]
    definition = resource(path, "operator")["properties"]
    assert definition["type"] == "CustomRole"
    assert definition["assignableScopes"] == "assignableScopes"


def test_rbac_administrator_is_constrained_to_the_grantable_roles() -> None:
    path = INFRA / "app" / "operator-access.bicep"
    assert bicep(path)["variables"]["rbacAdministrator"]["value"] == RBAC_ADMINISTRATOR
    properties = resource(path, "grantAdministrator")["properties"]
    assert properties["conditionVersion"] == "2.0"
    variables = bicep(path)["variables"]
    write, delete = variables["constrainWrite"]["value"], variables["constrainDelete"]["value"]
    assert "ActionMatches{'Microsoft.Authorization/roleAssignments/write'}" in write.replace("\\'", "'")
    assert "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals" in write
    assert "ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}" in delete.replace("\\'", "'")
    assert "@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals" in delete
    assert properties["condition"] == "${constrainWrite} AND ${constrainDelete}"
    # The condition as ARM receives it, for two grantable roles: balanced, one clause per action.
    roles = ["7f951dda-4ed3-4680-a7ca-43fe172d538d", "4633458b-17de-408a-b874-0445c86b69e6"]
    grantable = variables["grantable"]["value"]["function"]
    assert grantable == {"type": "join", "parameters": {"input_array": "grantableRoleIds", "delimiter": ", "}}
    condition = " AND ".join(c.replace("\\'", "'").replace("${grantable}", ", ".join(roles)) for c in (write, delete))
    assert condition.count("(") == condition.count(")")
    assert condition.count("GuidEquals {" + ", ".join(roles) + "}") == 2
    assert condition.count("StringEqualsIgnoreCase {'ServicePrincipal'}") == 2
    assert condition.startswith("((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (")


# ---- checkov configuration and local settings


def test_checkov_config_gives_every_skip_a_reason() -> None:
    text = (ROOT / ".checkov.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    assert config["framework"] == ["bicep"]
    assert config["directory"] == ["infra"]
    lines = text.splitlines()
    skips = [i for i, line in enumerate(lines) if re.fullmatch(r"\s*-\s*CKV2?_[A-Z0-9_]+\s*", line)]
    assert len(skips) == len(config["skip-check"])
    for i in skips:
        assert lines[i - 1].strip().startswith("#") and len(lines[i - 1].strip()) > 10, f"no reason for {lines[i]}"


def test_local_settings_example() -> None:
    settings = json.loads((ROOT / "local.settings.json.example").read_text(encoding="utf-8"))
    assert settings["IsEncrypted"] is False
    values = settings["Values"]
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["BLUEGREEN_AZURE_MODE"] == "azure"
    assert values["BLUEGREEN_CONFIG"] == "environments.toml"
    assert "AzureWebJobsStorage" in values or "AzureWebJobsStorage__accountName" in values
    assert values["AZURE_CLIENT_ID"] == ""

"""The Function App: wiring only. One blueprint per concern; no work at import time."""

import azure.durable_functions as df
import azure.functions as func

import activities
import orchestrators

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(orchestrators.bp)
app.register_functions(activities.bp)

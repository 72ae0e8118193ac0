"""The Function App: wiring only. One blueprint per concern; no work at import time."""

import azure.durable_functions as df
import azure.functions as func

import activities
import orchestrators
import triggers

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(orchestrators.bp)
app.register_functions(activities.bp)
app.register_functions(triggers.http_bp)
app.register_functions(triggers.alerts_bp)
app.register_functions(triggers.eventgrid_bp)
app.register_functions(triggers.retention_bp)

"""A two-function app for the harness's own test: an activity raced by an event, then continue-as-new.

The second execution numbers its activity 0 again, as the first did; a harness that matched results by
(instance, task id) alone would hand it the first execution's answer.
"""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def racer(context: df.DurableOrchestrationContext):
    generation = context.get_input()
    work = context.call_activity("echo", generation)
    winner = yield context.task_any([work, context.wait_for_external_event("restart")])
    if winner is not work and generation == 0:
        context.continue_as_new(1)
        return None
    return winner.result


@app.activity_trigger(input_name="payload")
def echo(payload: int) -> int:
    return payload

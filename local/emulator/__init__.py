"""The Lambda emulator: execution environments as worker processes.

- pool: each function's workers, its concurrency limit, cold starts, timeouts, failures
- worker: one execution environment (`python -m local.emulator.worker`): imports the handler
  once, then serves one invocation at a time
- protocol: the messages between the pool and a worker
- context: the context object a handler gets
- loader: a function's handler module, found the way Lambda finds it
- variables: the environment variables a function sees (Lambda's, the template's, overrides)
- invoke: one invocation, as `sam local invoke` does
- reload: which workers a saved change retires
"""

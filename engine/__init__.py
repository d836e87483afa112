"""The workflow runtime of Xuncha: SpiffWorkflow + SQLAlchemy, never Flask.

Every public function takes the SQLAlchemy ``Session`` and the acting user explicitly, so the same
code serves the web layer, the scheduler, the CLI and the tests.
"""

"""The orchestration library behind the invoke tasks."""

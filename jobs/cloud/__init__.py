"""What any cloud backend uses, Vertex AI's today and another's tomorrow.

    storage.py     local paths and gs:// objects, whole objects at a time
    stack.py       an onboarded project's stack outputs, read and checked (infra/outputs.py names them)
    google.py      Google API calls: transient errors retried, permission and quota errors explained
    package.py     the trainer as a Python package (sdist), built and uploaded; archive.py, its checks
"""

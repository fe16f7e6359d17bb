"""What any cloud backend uses, Vertex AI's today and another's tomorrow.

    storage.py     local paths and gs:// objects, whole objects at a time
    stack.py       an onboarded project's stack outputs, the one typed object shared with infra/
    google.py      Google API calls: transient errors retried, permission and quota errors explained
    package.py     the trainer as a Python package (sdist), built and uploaded; archive.py, its checks
"""
